// Store: the one interface for durable state (DESIGN.md "Store").
//
// SQL is kept portable (SQLite now, PostgreSQL later): `?` placeholders, INTEGER/TEXT/BLOB/REAL
// columns, no SQLite-only syntax in service code. Every write is a transaction; once transaction()
// returns OK the write is durable against a kill -9 of the node (the OS has it; fsync is batched as
// SQLite's WAL with synchronous=NORMAL does, or done before returning in strict mode).
//
// Threads: every method is thread-safe. Calls block on disk I/O; callers on an event-loop thread
// should run them through a blocking pool (net/async.h run_blocking) except for short operations.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace nubo::storage {

struct Null {};
struct Blob {
  std::string bytes;
};
// One SQL value.
using Value = std::variant<Null, int64_t, double, std::string, Blob>;

// One result row. Column access by index; the getters convert NULL to the empty/zero value.
class Row {
 public:
  explicit Row(std::vector<Value> cols) : cols_(std::move(cols)) {}
  size_t size() const { return cols_.size(); }
  bool is_null(size_t i) const { return std::holds_alternative<Null>(cols_.at(i)); }
  int64_t integer(size_t i) const;
  double real(size_t i) const;
  // TEXT or BLOB bytes.
  std::string text(size_t i) const;
  std::optional<std::string> opt_text(size_t i) const;

 private:
  std::vector<Value> cols_;
};

using Rows = std::vector<Row>;
using Params = std::vector<Value>;

// A transaction in progress. Lives only inside Store::transaction's callback, on its thread.
class Txn {
 public:
  virtual ~Txn() = default;
  // Runs one statement; returns the number of rows changed.
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs fn in one transaction: committed if fn returns OK, rolled back otherwise (and on a
  // storage error, which is returned as a ServiceException 500).
  virtual Status transaction(const std::function<Status(Txn&)>& fn) = 0;

  // A read outside any explicit transaction (sees every committed write).
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;

  // Applies each schema statement of `component` once, in order, recording progress in the store.
  // Statements already applied (by index) are skipped, so components append, never edit.
  virtual Status migrate(std::string_view component,
                         const std::vector<std::string>& statements) = 0;
};

struct SqliteOptions {
  std::string path;     // database file
  bool strict = false;  // fsync before transaction() returns (group commit), else WAL NORMAL
};

// Opens (creating if needed) the SQLite store.
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

}  // namespace nubo::storage
