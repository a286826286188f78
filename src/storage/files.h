// Durable file writes for bytes kept beside the Store (code packages, objects).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo::storage {

// Writes data to path durably: a temporary name in the same folder, fsync, rename, fsync of the
// folder. Readers see the old file or the new one, never a part. Creates missing folders.
Status write_file_atomic(const std::string& path, std::string_view data);

// Reads a whole file.
Result<std::string> read_file(const std::string& path);

// Creates path and its parents (like mkdir -p).
Status make_dirs(const std::string& path);

// Removes a file or a folder tree; missing is not an error.
Status remove_all(const std::string& path);

// fsyncs a folder so that renames and creations in it are durable.
Status fsync_dir(const std::string& path);

}  // namespace nubo::storage
