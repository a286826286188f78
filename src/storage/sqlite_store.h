// SQLite backend of the Store: WAL mode, one writer connection, a small pool of readers.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "storage/store.h"

struct sqlite3;

namespace nubo::storage {

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteOptions& options);
  ~SqliteStore() override;

  Status transaction(const std::function<Status(Txn&)>& fn) override;
  Result<Rows> query(std::string_view sql, const Params& params) override;
  Status migrate(std::string_view component, const std::vector<std::string>& statements) override;

 private:
  explicit SqliteStore(SqliteOptions options) : options_(std::move(options)) {}
  sqlite3* acquire_reader();
  void release_reader(sqlite3* db);

  SqliteOptions options_;
  std::mutex write_mu_;
  sqlite3* writer_ = nullptr;  // GUARDED_BY(write_mu_)
  std::mutex read_mu_;
  std::vector<sqlite3*> readers_;      // idle readers, GUARDED_BY(read_mu_)
  std::vector<sqlite3*> all_readers_;  // GUARDED_BY(read_mu_), closed in the destructor
};

}  // namespace nubo::storage
