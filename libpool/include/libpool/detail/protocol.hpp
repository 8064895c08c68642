#pragma once
// Wire headers shared by the master (templates in executor.hpp build task messages) and workers.
// Every message is one contiguous buffer: a fixed header, then the Codec-encoded payload.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace libpool::detail {

enum Tag : int {
  kTagTask = 101,         // master -> worker: TaskHeader + payload
  kTagStop = 102,         // master -> worker: StopMode (one byte); the worker leaves its loop.
                          // worker -> master: empty, the worker's last message (after Normal)
  kTagResult = 103,       // worker -> master: ResultHeader + payload
  kTagTaskBatch = 104,    // master -> worker: several tasks, see below
  kTagResultBatch = 105,  // worker -> master: their results, in the same order
  kTagHeartbeat = 106,    // worker -> master: empty; sent when nothing else was for a while
  kTagTaskTimeout = 107,  // worker -> master: uint64 work id, double seconds run, string host
};

enum class StopMode : std::uint8_t {
  Normal = 0,   // everything was answered: flush sends, reply kTagStop, leave
  Abandon = 1,  // the master gave up on the pool: drop queued tasks, send nothing more, leave
};

// A batch is a uint64 count, then for each part a uint64 length and that many bytes (one whole
// task or result message). When a worker has room for several tiny tasks, one message carries
// them all: MPI's per-message cost is what bounds small-task throughput.
using BatchCount = std::uint64_t;

// MPI counts are ints: one message stays below 2 GiB, with room for a batch's framing.
inline constexpr std::size_t kMaxMessageBytes = (std::size_t{1} << 31) - (std::size_t{8} << 20);
// Batches stay below Open MPI's shared-memory eager limit (4 KiB): such a message is copied
// through the receiver's queue at once, while a larger one takes a rendezvous (a handshake and
// a second copy), which halves the rate of chunk-sized results. A worker sends its reply once
// it holds this much (so replies also stay far below the int limit), or once its first result
// has waited kReplyFlushTime.
inline constexpr std::size_t kBatchBytes = 3000;
inline constexpr std::size_t kReplyFlushBytes = kBatchBytes;
inline constexpr std::chrono::microseconds kReplyFlushTime{20};

enum class TaskKind : std::uint8_t { Call = 1, Chunk = 2 };

struct TaskHeader {
  std::uint64_t task_hash;
  std::uint64_t work_id;
  TaskKind kind;
  std::uint8_t reserved[7];
};

enum class ResultStatus : std::uint8_t {
  Ok = 1,      // payload: the encoded result
  Error = 2,   // payload: RemoteError fields (the task threw; the worker carries on)
  Broken = 3,  // payload: same; the worker's initializer failed, it runs nothing more
};

struct ResultHeader {
  std::uint64_t work_id;
  double start_s;
  double end_s;
  ResultStatus status;
  std::uint8_t reserved[7];
};

}  // namespace libpool::detail
