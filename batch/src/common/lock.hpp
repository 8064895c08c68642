// One writer per output: poolrun's own lock beside the output file, "<output>.lock".
//
// HDF5's file lock cannot protect an output: a second create truncates a live file before its
// own lock fails. So the run takes this lock before it creates or opens anything: the file is
// created with O_EXCL and holds "host pid start-time". A lock whose holder is gone is stale and
// taken over: on the same host when that pid no longer runs (or runs another program, by its
// start time); from another node when its holder has not refreshed it (mtime) for
// `stale_after` seconds - a live run touches it at least every few seconds.
#pragma once

#include <filesystem>
#include <string>

namespace common {

class OutputLock {
 public:
  OutputLock() = default;
  // Takes the lock of `output`; UsageError (one line naming host and pid) if a live run holds it.
  static OutputLock acquire(const std::filesystem::path& output, double stale_after = 60.0);
  static std::filesystem::path lock_path(const std::filesystem::path& output);
  // Whether a run still writes `output`, by its lock: none (no lock file), alive, or gone (its
  // holder died: the same rule as acquire()'s takeover).
  enum class Writer { none, alive, gone };
  static Writer writer(const std::filesystem::path& output, double stale_after = 60.0);

  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();  // removes the lock file (if it is still ours)

  bool held() const noexcept { return !path_.empty(); }
  // Refreshes the lock's mtime, so other nodes see the holder is alive.
  void touch() noexcept;
  void release() noexcept;

 private:
  explicit OutputLock(std::filesystem::path path, std::string content)
      : path_(std::move(path)), content_(std::move(content)) {}
  std::filesystem::path path_;
  std::string content_;
};

}  // namespace common
