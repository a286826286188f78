// Helpers shared by the Secrets Manager unit tests: a temp data dir with a real SqliteStore, a
// FakeClock and a Keyring.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "auth/keyring.h"
#include "base/clock.h"
#include "base/ids.h"
#include "storage/store.h"

namespace nubo::secretsmanager::testing {

inline constexpr const char* kAccount = "000000000000";
inline constexpr const char* kRegion = "us-east-1";
// 2023-11-14T22:13:20Z.
inline SystemTime start_time() {
  return SystemTime(std::chrono::seconds(1700000000));
}

// A data directory with its store, removed at the end.
class DataDir {
 public:
  DataDir() {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-sm-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    open();
  }
  ~DataDir() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    store_.reset();
    storage::SqliteOptions o;
    o.path = dir_ + "/nubo.db";
    auto st = storage::open_sqlite_store(o);
    NUBO_CHECK(st.ok());
    store_ = std::move(st).value();
  }
  storage::Store* store() { return store_.get(); }
  const std::string& path() const { return dir_; }

  // Whether `needle` occurs in any byte of any file under the directory (the database, its
  // -wal and -shm files, anything else).
  bool any_file_contains(const std::string& needle) const {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file()) continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (bytes.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  size_t total_bytes() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) n += e.file_size();
    }
    return n;
  }

 private:
  std::string dir_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace nubo::secretsmanager::testing
