#include "storage/sqlite_store.h"

#include <sqlite3.h>

#include <string>
#include <unordered_map>

namespace nubo::storage {

int64_t Row::integer(size_t i) const {
  const Value& v = cols_.at(i);
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}
double Row::real(size_t i) const {
  const Value& v = cols_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  return 0;
}
std::string Row::text(size_t i) const {
  const Value& v = cols_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<Blob>(&v)) return b->bytes;
  if (auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  return {};
}
std::optional<std::string> Row::opt_text(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return text(i);
}

namespace {

Error db_error(sqlite3* db, std::string_view what) {
  return internal_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

Status bind_all(sqlite3* db, sqlite3_stmt* st, const Params& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    int rc = std::visit(
        [&](const auto& v) -> int {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, Null>) {
            return sqlite3_bind_null(st, idx);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlite3_bind_int64(st, idx, v);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(st, idx, v);
          } else if constexpr (std::is_same_v<T, std::string>) {
            return sqlite3_bind_text(st, idx, v.data(), static_cast<int>(v.size()),
                                     SQLITE_TRANSIENT);
          } else {
            return sqlite3_bind_blob(st, idx, v.bytes.data(), static_cast<int>(v.bytes.size()),
                                     SQLITE_TRANSIENT);
          }
        },
        params[i]);
    if (rc != SQLITE_OK) return db_error(db, "bind");
  }
  return Ok{};
}

}  // namespace

// One SQLite connection and the statements prepared on it, by SQL text: services run the same
// few statements over and over, and parsing one costs more than running it. Used by one thread
// at a time (the writer under write_mu_, a reader while it is acquired).
struct SqliteStore::Connection {
  static constexpr size_t kMaxStatements = 256;  // then start over: a bound, not an LRU

  sqlite3* db = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements;

  ~Connection() {
    clear();
    if (db != nullptr) sqlite3_close(db);
  }
  void clear() {
    for (auto& [sql, st] : statements) sqlite3_finalize(st);
    statements.clear();
  }
  // A prepared statement for sql, reset and unbound; null on a prepare error (in db's errmsg).
  sqlite3_stmt* prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = statements.find(key); it != statements.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st, nullptr) !=
        SQLITE_OK) {
      return nullptr;
    }
    if (statements.size() >= kMaxStatements) clear();
    statements.emplace(std::move(key), st);
    return st;
  }
};

namespace {

// Runs sql with params on conn, collecting rows if `rows` is non-null.
Result<int64_t> run(SqliteStore::Connection& conn, std::string_view sql, const Params& params,
                    Rows* rows) {
  sqlite3* db = conn.db;
  sqlite3_stmt* st = conn.prepare(sql);
  if (st == nullptr) return db_error(db, "prepare");
  // Back to its initial state when done, whatever happens: a statement left mid-step would
  // hold its read transaction open.
  struct Reset {
    sqlite3_stmt* st;
    ~Reset() {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    }
  } reset{st};
  NUBO_TRY(bind_all(db, st, params));
  while (true) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(db, "step");
    if (rows == nullptr) continue;
    int n = sqlite3_column_count(st);
    std::vector<Value> cols;
    cols.reserve(n);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER:
          cols.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, c)));
          break;
        case SQLITE_FLOAT:
          cols.emplace_back(sqlite3_column_double(st, c));
          break;
        case SQLITE_TEXT:
          cols.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                                        sqlite3_column_bytes(st, c)));
          break;
        case SQLITE_BLOB: {
          const void* p = sqlite3_column_blob(st, c);
          int len = sqlite3_column_bytes(st, c);
          cols.emplace_back(Blob{std::string(static_cast<const char*>(p), len)});
          break;
        }
        default:
          cols.emplace_back(Null{});
      }
    }
    rows->emplace_back(std::move(cols));
  }
  return static_cast<int64_t>(sqlite3_changes(db));
}

Result<sqlite3*> open_db(const std::string& path, bool strict) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return internal_error("cannot open store " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += strict ? "FULL;" : "NORMAL;";
  char* err = nullptr;
  if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db);
    return internal_error("cannot configure store: " + msg);
  }
  return db;
}

class SqliteTxn final : public Txn {
 public:
  explicit SqliteTxn(SqliteStore::Connection& conn) : conn_(conn) {}
  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    return run(conn_, sql, params, nullptr);
  }
  Result<Rows> query(std::string_view sql, const Params& params) override {
    Rows rows;
    auto r = run(conn_, sql, params, &rows);
    if (!r.ok()) return std::move(r).error();
    return rows;
  }

 private:
  SqliteStore::Connection& conn_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) {
  auto r = SqliteStore::open(options);
  if (!r.ok()) return std::move(r).error();
  return std::unique_ptr<Store>(std::move(r).value());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteOptions& options) {
  std::unique_ptr<SqliteStore> s(new SqliteStore(options));
  s->writer_ = std::make_unique<Connection>();
  NUBO_ASSIGN_OR_RETURN(s->writer_->db, open_db(options.path, options.strict));
  char* err = nullptr;
  const char* ddl =
      "CREATE TABLE IF NOT EXISTS nubo_migrations (component TEXT PRIMARY KEY, applied INTEGER "
      "NOT NULL)";
  if (sqlite3_exec(s->writer_->db, ddl, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return internal_error("cannot create migrations table: " + msg);
  }
  return s;
}

SqliteStore::SqliteStore(SqliteOptions options) : options_(std::move(options)) {}
SqliteStore::~SqliteStore() = default;

Status SqliteStore::transaction(const std::function<Status(Txn&)>& fn) {
  std::lock_guard lock(write_mu_);
  sqlite3* writer = writer_->db;
  char* err = nullptr;
  if (sqlite3_exec(writer, "BEGIN IMMEDIATE", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return internal_error("begin: " + msg);
  }
  SqliteTxn txn(*writer_);
  Status st = fn(txn);
  if (!st.ok()) {
    sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
    return st;
  }
  if (sqlite3_exec(writer, "COMMIT", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
    return internal_error("commit: " + msg);
  }
  return Ok{};
}

SqliteStore::Connection* SqliteStore::acquire_reader() {
  {
    std::lock_guard lock(read_mu_);
    if (!readers_.empty()) {
      Connection* conn = readers_.back();
      readers_.pop_back();
      return conn;
    }
  }
  auto r = open_db(options_.path, options_.strict);
  if (!r.ok()) return nullptr;
  auto conn = std::make_unique<Connection>();
  conn->db = r.value();
  std::lock_guard lock(read_mu_);
  all_readers_.push_back(std::move(conn));
  return all_readers_.back().get();
}

void SqliteStore::release_reader(Connection* conn) {
  std::lock_guard lock(read_mu_);
  readers_.push_back(conn);
}

Result<Rows> SqliteStore::query(std::string_view sql, const Params& params) {
  Connection* conn = acquire_reader();
  if (conn == nullptr) return internal_error("cannot open a read connection");
  Rows rows;
  auto r = run(*conn, sql, params, &rows);
  release_reader(conn);
  if (!r.ok()) return std::move(r).error();
  return rows;
}

Status SqliteStore::migrate(std::string_view component,
                            const std::vector<std::string>& statements) {
  return transaction([&](Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(Rows rows, txn.query("SELECT applied FROM nubo_migrations WHERE "
                                               "component = ?",
                                               {std::string(component)}));
    int64_t applied = rows.empty() ? 0 : rows[0].integer(0);
    for (size_t i = static_cast<size_t>(applied); i < statements.size(); ++i) {
      NUBO_TRY(txn.exec(statements[i]));
    }
    NUBO_TRY(txn.exec(
        "INSERT INTO nubo_migrations(component, applied) VALUES(?, ?) ON CONFLICT(component) DO "
        "UPDATE SET applied = excluded.applied",
        {std::string(component), static_cast<int64_t>(statements.size())}));
    return Ok{};
  });
}

}  // namespace nubo::storage
