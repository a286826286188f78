#include "runtime/file_log_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "storage/files.h"

namespace nubo::runtime {

namespace {

std::string escape_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 8);
  for (char c : name) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

// "2024-01-31T12:34:56.789Z" into buf (24 chars). Caches the date/time part per second.
size_t format_timestamp(SystemTime t, char* buf) {
  auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms_total / 1000;
  int ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[64];
  if (secs != cached_secs) {
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  std::memcpy(buf, cached, 19);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  buf[21] = static_cast<char>('0' + (ms / 10) % 10);
  buf[22] = static_cast<char>('0' + ms % 10);
  buf[23] = 'Z';
  return 24;
}

class FileLogSink final : public LogSink {
 public:
  explicit FileLogSink(FileLogSinkOptions options) : options_(std::move(options)) {
    flusher_ = std::thread([this] { run(); });
  }

  ~FileLogSink() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    flusher_.join();
    write_out();
    for (auto& [path, f] : files_) ::close(f.fd);
  }

  void append(std::string_view log_group, std::string_view log_stream, SystemTime timestamp,
              std::string_view line) override {
    char ts[32];
    size_t ts_len = format_timestamp(timestamp, ts);
    std::lock_guard lock(mu_);
    if (buffered_ + line.size() > options_.max_buffer_bytes) {
      ++dropped_;
      return;
    }
    Pending* p = nullptr;
    if (last_ < pending_.size() && pending_[last_].group == log_group &&
        pending_[last_].stream == log_stream) {
      p = &pending_[last_];
    } else {
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (pending_[i].group == log_group && pending_[i].stream == log_stream) {
          p = &pending_[i];
          last_ = i;
          break;
        }
      }
      if (!p) {
        pending_.push_back(Pending{std::string(log_group), std::string(log_stream), {}, 0});
        last_ = pending_.size() - 1;
        p = &pending_.back();
      }
    }
    p->idle_rounds = 0;
    size_t before = p->text.size();
    p->text.append(ts, ts_len);
    p->text += '\t';
    p->text.append(line);
    p->text += '\n';
    buffered_ += p->text.size() - before;
  }

  void flush() override { write_out(); }

 private:
  struct Pending {
    std::string group;
    std::string stream;
    std::string text;
    int idle_rounds = 0;  // write-outs since the last append
  };
  struct OpenFile {
    int fd = -1;
    std::chrono::steady_clock::time_point last_write;
  };

  void run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, options_.flush_interval);
      if (stopping_) break;
      lock.unlock();
      write_out();
      lock.lock();
    }
  }

  // Takes the buffered lines and writes them. Serialized by write_mu_; mu_ is held only to swap.
  void write_out() {
    std::lock_guard wlock(write_mu_);
    std::vector<Pending> batch;
    uint64_t dropped = 0;
    {
      std::lock_guard lock(mu_);
      for (auto& p : pending_) {
        if (p.text.empty()) {
          ++p.idle_rounds;
          continue;
        }
        batch.push_back(Pending{p.group, p.stream, {}, 0});
        batch.back().text.swap(p.text);
      }
      // Streams quiet for a while are forgotten (a few hundred rounds: seconds).
      std::erase_if(pending_, [](const Pending& p) { return p.idle_rounds > 500; });
      last_ = SIZE_MAX;
      buffered_ = 0;
      dropped = dropped_;
      dropped_ = 0;
    }
    auto now = std::chrono::steady_clock::now();
    for (auto& p : batch) {
      if (p.text.empty()) continue;
      int fd = file_for(p.group, p.stream, now);
      if (fd < 0) continue;
      const char* data = p.text.data();
      size_t left = p.text.size();
      while (left > 0) {
        ssize_t n = ::write(fd, data, left);
        if (n < 0) {
          if (errno == EINTR) continue;
          log_warn(std::string("log sink: write failed: ") + std::strerror(errno));
          break;
        }
        data += n;
        left -= static_cast<size_t>(n);
      }
    }
    if (dropped > 0) {
      log_warn("log sink: the disk fell behind; dropped " + std::to_string(dropped) + " log lines");
    }
    // Files that went quiet are closed.
    for (auto it = files_.begin(); it != files_.end();) {
      if (now - it->second.last_write > std::chrono::seconds(30)) {
        ::close(it->second.fd);
        it = files_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // REQUIRES: write_mu_ held.
  int file_for(const std::string& group, const std::string& stream,
               std::chrono::steady_clock::time_point now) {
    std::string path = log_file_path(options_.logs_dir, group, stream);
    auto it = files_.find(path);
    if (it != files_.end()) {
      it->second.last_write = now;
      return it->second.fd;
    }
    if (files_.size() >= 256) {
      for (auto& [p, f] : files_) ::close(f.fd);
      files_.clear();
    }
    std::string dir = options_.logs_dir + "/" + escape_name(group);
    if (!storage::make_dirs(dir).ok()) {
      log_warn("log sink: cannot create " + dir);
      return -1;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      log_warn("log sink: cannot open " + path + ": " + std::strerror(errno));
      return -1;
    }
    files_[path] = OpenFile{fd, now};
    return fd;
  }

  const FileLogSinkOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;         // GUARDED_BY(mu_)
  std::vector<Pending> pending_;  // GUARDED_BY(mu_)
  size_t last_ = SIZE_MAX;        // GUARDED_BY(mu_): index of the stream appended to last
  size_t buffered_ = 0;           // GUARDED_BY(mu_)
  uint64_t dropped_ = 0;          // GUARDED_BY(mu_)
  std::mutex write_mu_;
  std::unordered_map<std::string, OpenFile> files_;  // GUARDED_BY(write_mu_)
  std::thread flusher_;
};

}  // namespace

std::string log_file_path(std::string_view logs_dir, std::string_view log_group,
                          std::string_view log_stream) {
  std::string p(logs_dir);
  p += '/';
  p += escape_name(log_group);
  p += '/';
  p += escape_name(log_stream);
  p += ".log";
  return p;
}

std::unique_ptr<LogSink> make_file_log_sink(FileLogSinkOptions options) {
  return std::make_unique<FileLogSink>(std::move(options));
}

}  // namespace nubo::runtime
