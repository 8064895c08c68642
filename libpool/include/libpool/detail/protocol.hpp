#pragma once
// Every message the pool sends, in one place: its tag, its layout, and its encoder beside its
// decoder. The master (master.cpp), the worker loop (worker.cpp), the task thread and the task
// runner all build and read messages through these functions only. The sequence of messages is
// drawn on top of master.cpp.
//
// Every message is one contiguous buffer: a fixed header, then the Codec-encoded payload.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>

#include "libpool/codec.hpp"
#include "libpool/errors.hpp"

namespace libpool::detail {

enum Tag : int {
  kTagTask = 101,         // master -> worker: TaskHeader + payload
  kTagStop = 102,         // master -> worker: StopMode (one byte); the worker leaves its loop.
                          // worker -> master: empty, the worker's last message (after Normal)
  kTagResult = 103,       // worker -> master: ResultHeader + payload
  kTagTaskBatch = 104,    // master -> worker: several tasks, see "Batches" below
  kTagResultBatch = 105,  // worker -> master: their results, in the same order
  kTagHeartbeat = 106,    // worker -> master: empty; sent when nothing else was for a while
  kTagTaskTimeout = 107,  // worker -> master: TaskTimeoutReport
  kTagSignal = 108,  // worker -> master: int32, a signal that stops the run (Options::stop_flag);
                     // master -> worker: int32, set it there (Executor::signal_workers)
};

enum class StopMode : std::uint8_t {
  Normal = 0,   // everything was answered: flush sends, reply kTagStop, leave
  Abandon = 1,  // the master gave up on the pool: drop queued tasks, send nothing more, leave
};

// MPI counts are ints: one message stays below 2 GiB, with room for a batch's framing.
inline constexpr std::size_t kMaxMessageBytes = (std::size_t{1} << 31) - (std::size_t{8} << 20);
// Batches stay below Open MPI's shared-memory eager limit (4 KiB): such a message is copied
// through the receiver's queue at once, while a larger one takes a rendezvous (a handshake and
// a second copy), which halves the rate of chunk-sized results. A worker sends its reply once
// it holds this much (so replies also stay far below the int limit), once its first result
// has waited kReplyFlushTime when the next task starts, or once the running task has run
// kReplyHoldLimit while finished results wait behind it.
inline constexpr std::size_t kBatchBytes = 3000;
inline constexpr std::size_t kReplyFlushBytes = kBatchBytes;
inline constexpr std::chrono::microseconds kReplyFlushTime{20};
inline constexpr std::chrono::microseconds kReplyHoldLimit{200};

// ---- tasks ---------------------------------------------------------------------------------

enum class TaskKind : std::uint8_t { Call = 1, Chunk = 2 };

struct TaskHeader {
  std::uint64_t task_hash;
  std::uint64_t work_id;
  TaskKind kind;
  std::uint8_t reserved[7];
};

// A task message is built in place: room for the header first, the payload after it, and the
// header written once the master numbers the work.
inline void reserve_task_header(Writer& w) {
  w.grow(sizeof(TaskHeader));
}
inline void write_task_header(Writer& w, const TaskHeader& h) {
  std::memcpy(w.data(), &h, sizeof h);
}
// The header of a task message; throws CodecError on a message too short to hold one.
inline TaskHeader read_task_header(const std::byte* msg, std::size_t n) {
  TaskHeader h{};
  if (n < sizeof h) throw CodecError("task message shorter than its header");
  std::memcpy(&h, msg, sizeof h);
  return h;
}

// A map chunk's payload (TaskKind::Chunk): mode, item count, then per mode:
enum class ChunkMode : std::uint8_t {
  Iota = 1,  // one integer argument: the chunk carries only its first value (uint64)
  Zip = 2,   // each item's arguments encoded one after the other
};
inline void write_chunk_head(Writer& w, ChunkMode mode, std::uint64_t count) {
  w.put(static_cast<std::uint8_t>(mode));
  w.put(count);
}
// Where write_chunk_head put the count, for a count known only once the items are written.
inline std::size_t chunk_count_offset(const Writer& w) {
  return w.size() - sizeof(std::uint64_t);
}
inline void patch_chunk_count(Writer& w, std::size_t at, std::uint64_t count) {
  std::memcpy(w.data() + at, &count, sizeof count);
}
struct ChunkHead {
  ChunkMode mode;
  std::uint64_t count;
};
inline ChunkHead read_chunk_head(Reader& r) {
  const auto mode = static_cast<ChunkMode>(r.get<std::uint8_t>());
  const auto count = r.get<std::uint64_t>();
  return {mode, count};
}

// ---- results -------------------------------------------------------------------------------

enum class ResultStatus : std::uint8_t {
  Ok = 1,      // payload: the encoded result
  Error = 2,   // payload: ErrorPayload (the task threw; the worker carries on)
  Broken = 3,  // payload: same; the worker's initializer failed, it runs nothing more
};

struct ResultHeader {
  std::uint64_t work_id;
  double start_s;
  double end_s;
  ResultStatus status;
  std::uint8_t reserved[7];
};

// A result message is also built in place: header room, payload, then the header.
inline std::size_t reserve_result_header(Writer& w) {
  const std::size_t at = w.size();
  w.grow(sizeof(ResultHeader));
  return at;
}
inline void write_result_header(Writer& w, std::size_t at, const ResultHeader& h) {
  std::memcpy(w.data() + at, &h, sizeof h);
}
// The header of a result message; throws CodecError on a message too short to hold one.
inline ResultHeader read_result_header(const std::byte* msg, std::size_t n) {
  ResultHeader h{};
  if (n < sizeof h) throw CodecError("result message shorter than its header");
  std::memcpy(&h, msg, sizeof h);
  return h;
}

// Where a task failed, appended to the remote error's message.
enum class Phase : std::uint8_t { DecodeArguments = 1, Run = 2, EncodeResult = 3, Initialize = 4 };

// The payload of an Error or Broken result: type, nearest standard base (nearest_std_base; empty
// for none), message, phase, host.
void write_error(Writer& out, const std::string& type, const std::string& std_base,
                 const std::string& message, Phase phase, const std::string& host);
// Type, standard base, message (with the phase appended) and host; the master fills in the rest.
RemoteErrorInfo read_error(Reader& in);

// The name of the nearest standard exception type `e` derives from ("std::invalid_argument"), or
// empty for a libpool::Error (libpool's own errors stay libpool errors).
std::string nearest_std_base(const std::exception& e);
// The master's exception for a task's failure: Remote<std_base's type> (catchable as that type),
// or RemoteError when info.std_base is empty or names no type nearest_std_base gives.
std::exception_ptr make_remote_error(RemoteErrorInfo info);

// ---- task timeout --------------------------------------------------------------------------

struct TaskTimeoutReport {
  std::uint64_t work_id = 0;
  double seconds = 0;  // how long the task had run
  std::string host;
};
inline void write_task_timeout(Writer& w, const TaskTimeoutReport& t) {
  w.put(t.work_id);
  w.put(t.seconds);
  w.put(t.host);
}
inline TaskTimeoutReport read_task_timeout(const std::byte* msg, std::size_t n) {
  Reader r(msg, n);
  TaskTimeoutReport t;
  t.work_id = r.get<std::uint64_t>();
  t.seconds = r.get<double>();
  t.host = r.get<std::string>();
  return t;
}

// ---- batches -------------------------------------------------------------------------------
// A batch is a uint64 count, then for each part a uint64 length and that many bytes (one whole
// task or result message). When a worker has room for several tiny tasks, one message carries
// them all: MPI's per-message cost is what bounds small-task throughput. A batch of one result
// is sent as a plain kTagResult message from kBatchFramingBytes on.
using BatchCount = std::uint64_t;
inline constexpr std::size_t kBatchFramingBytes = sizeof(BatchCount) + sizeof(std::uint64_t);

inline void begin_batch(Writer& w) {
  w.put(BatchCount{0});
}
inline void set_batch_count(Writer& w, BatchCount n) {
  std::memcpy(w.data(), &n, sizeof n);
}
// A part whose bytes are written after begin_part(); end_part() fills in its length.
inline std::size_t begin_part(Writer& w) {
  const std::size_t at = w.size();
  w.put(std::uint64_t{0});
  return at;
}
inline void end_part(Writer& w, std::size_t at) {
  const std::uint64_t len = w.size() - at - sizeof(std::uint64_t);
  std::memcpy(w.data() + at, &len, sizeof len);
}
inline void put_part(Writer& w, const std::byte* data, std::size_t n) {
  w.put(static_cast<std::uint64_t>(n));
  w.write_bytes(data, n);
}
// Walks a batch's parts in place; every read is bounds-checked (CodecError).
class BatchReader {
 public:
  BatchReader(const std::byte* data, std::size_t n) : r_(data, n), left_(r_.get<BatchCount>()) {}
  BatchCount count_left() const noexcept { return left_; }
  bool next(const std::byte*& part, std::size_t& n) {
    if (left_ == 0) return false;
    --left_;
    n = r_.get<std::uint64_t>();
    part = r_.take(n);
    return true;
  }

 private:
  Reader r_;
  BatchCount left_;
};

}  // namespace libpool::detail
