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

  struct Connection;  // a connection and its prepared statements (sqlite_store.cc)

 private:
  explicit SqliteStore(SqliteOptions options);
  Connection* acquire_reader();
  void release_reader(Connection* conn);

  SqliteOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // GUARDED_BY(write_mu_)
  std::mutex read_mu_;
  std::vector<Connection*> readers_;                      // idle readers, GUARDED_BY(read_mu_)
  std::vector<std::unique_ptr<Connection>> all_readers_;  // GUARDED_BY(read_mu_)
};

}  // namespace nubo::storage
