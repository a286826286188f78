// Code packages: the zips of function versions, kept durably under <root>/code/<sha256 hex>.zip
// and unpacked under <root>/unpacked/<sha256 hex>/ for the runtime to run.
//
// Zip files are content addressed, so versions with the same code share one package. The Store
// says which packages are in use; the unpacked folders can always be rebuilt from the zips.
//
// Threads: the functions block on disk I/O (call them from a blocking pool). CodeStore has no
// mutable state of its own; callers serialize writes to one package (LambdaService does, under
// its write lock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo::lambda {

struct ZipInfo {
  int64_t unzipped_size = 0;
  int64_t entries = 0;
};

// Checks that data is a zip Lambda would take: it opens, every entry name is a relative path
// without "..", and the unzipped total is under the limit. Errors are Lambda's
// InvalidParameterValueException ("Could not unzip uploaded file. ...", "Unzipped size must be
// smaller than 262144000 bytes").
Result<ZipInfo> inspect_zip(std::string_view data);

// Unpacks zip data into the folder dest, which must not exist yet: into a temporary sibling
// first, then renamed. Keeps the unix file modes of the entries (made readable by all, so a
// sandbox under another uid can read them); a `bootstrap` from a zip without unix modes is made
// executable. Symbolic links are skipped.
Status unpack_zip(std::string_view data, const std::string& dest);

class CodeStore {
 public:
  explicit CodeStore(std::string root) : root_(std::move(root)) {}

  std::string zip_path(std::string_view hex) const;
  std::string unpacked_dir(std::string_view hex) const;

  // Writes the zip (if not already there) and unpacks it (if not already unpacked).
  Status put(std::string_view hex, std::string_view data) const;
  // Re-unpacks a package whose folder is missing, from its zip.
  Status ensure_unpacked(std::string_view hex) const;
  // Removes a package's zip and folder.
  Status remove(std::string_view hex) const;
  // Removes temporary folders left by an unpack that a crash interrupted.
  void clean_temporaries() const;

 private:
  std::string root_;
};

}  // namespace nubo::lambda
