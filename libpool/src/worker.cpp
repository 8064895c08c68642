#include "worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "backoff.hpp"
#include "libpool/detail/protocol.hpp"
#include "mpi_check.hpp"

namespace libpool::detail {

namespace {

using Clock = std::chrono::steady_clock;

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double to_seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The worker's MPI thread. It never blocks inside MPI (Open MPI's blocking calls spin a core):
// it polls, and between polls
//   - with no task on the task thread, it backs off as the master does (spin, yield, sleep up to
//     1 ms: an idle rank costs well under 1% of a core);
//   - with tasks on the thread, it only sleeps, and the thread wakes it as soon as a reply is
//     ready; it then takes in what the master sent meanwhile (the thread holds the next task
//     already when the master prefetches). Spinning, yielding or waking often here would take
//     the core from the task when ranks share cores: it wakes on its own only for a heartbeat,
//     the running task's deadline, every 50 ms, or every 1 ms while a send is under way (a
//     large one moves only as this thread polls).
// It sends a heartbeat whenever it has sent nothing for heartbeat_interval, and reports a task
// that runs past task_timeout (kTagTaskTimeout, before that task's result, if ever).
//
// Where tasks run. A message (one task, or a batch of small ones) goes to the thread whole, and
// comes back as replies built the way this thread builds them. Still, each hand-over costs a
// wake-up of both threads (several us, far more when the two share a core with other ranks'
// threads), which caps tiny tasks far below the rate this thread reaches running them itself
// (map at chunksize 1, 2 ranks on 2 cores: ~2.5-3.8M tasks/s inline, a small fraction of that
// through the thread). So a message runs inline, here, when
//   - nothing is queued or running on the thread (replies stay in order), and
//   - every task in it is of a kind (task hash) that has been timed, averages below
//     inline_below (100 us), has run no longer than 10x that lately (a decaying maximum: one
//     run descheduled for a few ms sends the kind to the thread for a few dozen runs, not
//     forever), and never ran past a quarter of heartbeat_interval (125 ms; from then on it
//     always goes to the thread).
// A kind never seen goes to the thread first. While a task runs inline the rank cannot answer,
// so a false "stopped answering" takes one run of a kind whose recent runs all took under 1 ms
// and none ever 125 ms to last the whole worker_timeout (5 s). Pools with an initializer run
// every task on the thread (the initializer ran there: thread-local set-up must reach them).
class WorkerLoop {
 public:
  WorkerLoop(MPI_Comm comm, TaskRunner& runner, TaskThread* thread, const WorkerConfig& config,
             volatile std::sig_atomic_t* stop_flag)
      : comm_(comm),
        runner_(runner),
        thread_(thread),
        stop_flag_(stop_flag),
        config_(config),
        heartbeat_every_(to_duration(config.heartbeat_interval_s)),
        task_timeout_(to_duration(config.task_timeout_s)),
        long_run_s_(config.heartbeat_interval_s / 4) {}

  void run() {
    Backoff backoff;
    next_heartbeat_ = Clock::now() + heartbeat_every_;
    while (true) {
      bool any = receive();
      if (stop_) break;
      // Finished results held behind a task that runs long go out now, not when it ends.
      const auto hold_until =
          inbox_.empty() ? Clock::time_point::max() : thread_->release_held(kReplyHoldLimit);
      any |= collect_replies();
      const auto now = Clock::now();
      heartbeat_if_due(now);
      report_signal();
      watch_task(now);
      reap(false);
      if (any) {
        backoff.reset();
        continue;
      }
      if (inbox_.empty()) {
        backoff.idle();
        continue;
      }
      // Tasks run on the thread: sleep until a reply, the next heartbeat, the running task's
      // deadline, or the next look at the incoming messages, whichever comes first.
      const auto wake = std::min({next_heartbeat_, task_deadline_, hold_until});
      const Clock::duration nap = sends_.empty() ? kMaxNap : kMaxNapSending;
      const Clock::duration wait = std::min(nap, wake - now);
      if (wait > Clock::duration::zero()) thread_->wait_for_result(wait);
    }
    leave();
  }

 private:
  static constexpr auto kMaxNap = std::chrono::milliseconds(50);
  static constexpr auto kMaxNapSending = std::chrono::milliseconds(1);
  static constexpr double kRecentFactor =
      10;  // inline only while recent runs < 10 x the mean's limit
  static constexpr double kRecentDecay = 0.9;  // per run

  struct Send {
    Writer buffer;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  // A message handed to the thread: it reads the tasks in place, so the buffer stays until all
  // their results are back.
  struct Inbound {
    Writer buffer;
    std::size_t parts_left = 0;
  };
  struct Part {
    const std::byte* data;
    std::size_t size;
    std::uint64_t hash;
  };
  struct KindStats {
    std::uint64_t hash = 0;
    double mean_s = 0;
    double recent_max_s = 0;
    bool long_seen = false;  // once a run took long_run_s_: never inline
  };

  // ---- incoming ------------------------------------------------------------------------------

  bool receive() {
    bool any = false;
    for (int k = 0; k < 16; ++k) {
      if (receiving_ == MPI_REQUEST_NULL) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status status;
        LIBPOOL_MPI(MPI_Improbe(0, MPI_ANY_TAG, comm_, &flag, &msg, &status));
        if (!flag) break;
        int count = 0;
        LIBPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
        in_.clear();
        in_.grow(static_cast<std::size_t>(count));
        // Not MPI_Mrecv: a large message may need the master's own progress to arrive, and
        // this rank must keep answering meanwhile (a master busy in its code would otherwise
        // find it silent when it comes back).
        LIBPOOL_MPI(MPI_Imrecv(in_.data(), count, MPI_BYTE, &msg, &receiving_));
        receiving_tag_ = status.MPI_TAG;
      }
      int done = 0;
      LIBPOOL_MPI(MPI_Test(&receiving_, &done, MPI_STATUS_IGNORE));
      any = true;  // a message is arriving: poll again at once, as a blocking receive would
      if (!done) break;
      switch (receiving_tag_) {
        case kTagStop:
          stop_ = true;
          abandon_ = in_.size() > 0 && in_.data()[0] == static_cast<std::byte>(StopMode::Abandon);
          return true;
        case kTagTask:
        case kTagTaskBatch:
          take(receiving_tag_ == kTagTaskBatch);
          break;
        case kTagSignal: {
          std::int32_t sig = 0;
          if (in_.size() == sizeof sig) std::memcpy(&sig, in_.data(), sizeof sig);
          signal_sent_ = true;  // the master knows: nothing to tell it back
          if (stop_flag_ && sig != 0) *stop_flag_ = sig;
          break;
        }
        default:
          throw Error("protocol error: unexpected message (tag " + std::to_string(receiving_tag_) +
                      ") from the master");
      }
    }
    return any;
  }

  // A task message in in_: run it here, or hand it to the thread.
  void take(bool batch) {
    if (gave_up_) return;  // the master has given up on this rank: run nothing more
    parts_.clear();
    if (!batch) {
      parts_.push_back({in_.data(), in_.size(), hash_of(in_.data(), in_.size())});
    } else {
      BatchReader r(in_.data(), in_.size());  // checks the framing before the thread relies on it
      const std::byte* part = nullptr;
      std::size_t len = 0;
      while (r.next(part, len)) parts_.push_back({part, len, hash_of(part, len)});
    }
    if (parts_.empty()) return;
    bool here = inbox_.empty();
    for (std::size_t i = 0; here && i < parts_.size(); ++i) here = may_inline(parts_[i].hash);
    if (here) {
      for (const auto& p : parts_) {
        if (!gave_up_) run_inline(p);
      }
      flush_reply();
      return;
    }
    thread_->push(in_.data(), in_.size(),
                  batch ? TaskThread::JobKind::Batch : TaskThread::JobKind::Reply);
    for (const auto& p : parts_) hashes_.push_back(p.hash);
    inbox_.push_back({std::move(in_), parts_.size()});
    in_ = spare();
  }

  static std::uint64_t hash_of(const std::byte* task, std::size_t size) {
    // A short message gets hash 0 (no kind): the runner reports it as the task's error.
    return size >= sizeof(TaskHeader) ? read_task_header(task, size).task_hash : 0;
  }

  // ---- inline --------------------------------------------------------------------------------

  bool may_inline(std::uint64_t hash) {
    if (!thread_) return true;
    if (config_.inline_below_s <= 0) return false;
    const KindStats* k = find(hash);
    return k && !k->long_seen && k->mean_s < config_.inline_below_s &&
           k->recent_max_s < kRecentFactor * config_.inline_below_s;
  }

  void run_inline(const Part& p) {
    // A reply goes out once it holds kReplyFlushBytes or its first result has waited
    // kReplyFlushTime: a long task's result is not held back until the next one finishes.
    if (reply_parts_ > 0 &&
        (reply_.size() >= kReplyFlushBytes || Clock::now() - reply_started_ >= kReplyFlushTime)) {
      flush_reply();
    }
    if (reply_parts_ == 0) {
      reply_.clear();
      begin_batch(reply_);
      reply_started_ = Clock::now();
    }
    const std::size_t at = begin_part(reply_);
    runner_.run(p.data, p.size, reply_);
    end_part(reply_, at);
    const std::size_t result_at = at + sizeof(std::uint64_t);
    const ResultHeader rh =
        read_result_header(reply_.data() + result_at, reply_.size() - result_at);
    const double took = rh.end_s - rh.start_s;
    record(p.hash, took);
    if (config_.task_timeout_s > 0 && took > config_.task_timeout_s) {
      // Noticed only now: report it in place of the result (the master gives up on this rank).
      reply_.truncate(at);
      flush_reply();
      report_timeout(rh.work_id, took);
      return;
    }
    ++reply_parts_;
  }

  // ---- replies from the thread ---------------------------------------------------------------

  bool collect_replies() {
    if (inbox_.empty()) return false;
    bool any = false;
    result_ = spare();  // recycled into the thread's spare buffers by pop_result
    while (thread_->pop_result(result_)) {
      any = true;
      // Time every task in it, for the inline decision.
      BatchReader r(result_.data(), result_.size());
      const auto parts = r.count_left();
      const std::byte* part = nullptr;
      std::size_t len = 0;
      while (r.next(part, len)) {
        const ResultHeader rh = read_result_header(part, len);
        record(hashes_.front(), rh.end_s - rh.start_s);
        hashes_.pop_front();
      }
      inbox_.front().parts_left -= static_cast<std::size_t>(parts);
      if (inbox_.front().parts_left == 0) {
        recycle(std::move(inbox_.front().buffer));
        inbox_.pop_front();
      }
      if (gave_up_ || parts == 0) continue;
      if (parts == 1) {
        send(std::move(result_), kBatchFramingBytes, kTagResult);
      } else {
        send(std::move(result_), 0, kTagResultBatch);
      }
      result_ = spare();
    }
    return any;
  }

  // ---- task timeout --------------------------------------------------------------------------

  void watch_task(Clock::time_point now) {
    task_deadline_ = Clock::time_point::max();
    if (inbox_.empty() || config_.task_timeout_s <= 0 || gave_up_) return;
    const auto running = thread_->running();
    if (!running) return;  // between two tasks
    const auto deadline = running->since + task_timeout_;
    if (now < deadline) {
      task_deadline_ = deadline;
      return;
    }
    report_timeout(running->work_id, to_seconds(now - running->since));
  }

  void report_timeout(std::uint64_t work_id, double seconds) {
    flush_reply();
    Writer w = spare();
    write_task_timeout(w, {work_id, seconds, runner_.rank().host});
    send(std::move(w), 0, kTagTaskTimeout);
    // The master gives up on this rank: nothing it still holds is worth running or sending.
    gave_up_ = true;
    next_heartbeat_ = Clock::time_point::max();
    drop_queued();
  }

  // Takes back the messages the thread has not started (and it skips the rest of the one it
  // runs: that message's count of results never completes, which only matters after a stop).
  void drop_queued() {
    if (!thread_) return;
    for (auto n = thread_->drop_queued(); n > 0; --n) {
      for (auto k = inbox_.back().parts_left; k > 0; --k) hashes_.pop_back();
      recycle(std::move(inbox_.back().buffer));
      inbox_.pop_back();
    }
  }

  // ---- outgoing ------------------------------------------------------------------------------

  void flush_reply() {
    if (reply_parts_ == 0) return;
    set_batch_count(reply_, reply_parts_);
    if (reply_parts_ == 1) {
      send(std::move(reply_), kBatchFramingBytes, kTagResult);
    } else {
      send(std::move(reply_), 0, kTagResultBatch);
    }
    reply_ = spare();
    reply_parts_ = 0;
  }

  void send(Writer buffer, std::size_t offset, int tag) {
    Send s{std::move(buffer), MPI_REQUEST_NULL};
    LIBPOOL_MPI(MPI_Isend(s.buffer.data() + offset, static_cast<int>(s.buffer.size() - offset),
                          MPI_BYTE, 0, tag, comm_, &s.request));
    sends_.push_back(std::move(s));
    if (!gave_up_) next_heartbeat_ = Clock::now() + heartbeat_every_;
  }

  // A signal this rank received (Options::stop_flag) goes to the master, once: the program there
  // decides what it means (a batch run drains and stops).
  void report_signal() {
    if (signal_sent_ || !stop_flag_ || *stop_flag_ == 0 || gave_up_) return;
    signal_sent_ = true;
    const std::int32_t sig = *stop_flag_;
    Writer w;
    w.write_bytes(&sig, sizeof sig);
    send(std::move(w), 0, kTagSignal);
  }

  void heartbeat_if_due(Clock::time_point now) {
    if (now < next_heartbeat_) return;
    if (heartbeat_ != MPI_REQUEST_NULL) {
      // Never more than one outstanding: a master busy elsewhere gets one, not a pile.
      int done = 0;
      LIBPOOL_MPI(MPI_Test(&heartbeat_, &done, MPI_STATUS_IGNORE));
      if (!done) {
        next_heartbeat_ = now + heartbeat_every_ / 8;
        return;
      }
    }
    LIBPOOL_MPI(MPI_Isend(nullptr, 0, MPI_BYTE, 0, kTagHeartbeat, comm_, &heartbeat_));
    next_heartbeat_ = now + heartbeat_every_;
  }

  void reap(bool all) {
    while (!sends_.empty()) {
      int done = 0;
      if (all) {
        LIBPOOL_MPI(MPI_Wait(&sends_.front().request, MPI_STATUS_IGNORE));
        done = 1;
      } else {
        LIBPOOL_MPI(MPI_Test(&sends_.front().request, &done, MPI_STATUS_IGNORE));
      }
      if (!done) return;
      recycle(std::move(sends_.front().buffer));
      sends_.pop_front();
    }
  }

  void leave() {
    if (abandon_) {
      // The master has left without waiting: drop what is queued, send nothing more, and wait
      // for no send (it may never be received). A task running on the thread cannot be
      // stopped; it reads its message in place, so wait for it before the buffers go.
      drop_queued();
      while (thread_ && thread_->busy()) {
        while (thread_->pop_result(result_)) {
        }
        thread_->wait_for_result(std::chrono::milliseconds(10));
      }
      for (auto& s : sends_) {
        int done = 0;
        if (MPI_Test(&s.request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done) {
          if (s.request != MPI_REQUEST_NULL) MPI_Request_free(&s.request);
          keep_forever(std::move(s.buffer));
        }
      }
      sends_.clear();
      if (heartbeat_ != MPI_REQUEST_NULL) MPI_Request_free(&heartbeat_);
      return;
    }
    // Every result was received: say goodbye, after which nothing more comes from this rank on
    // this communicator (a stray message could otherwise reach a later one with its context id).
    flush_reply();
    LIBPOOL_MPI(MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagStop, comm_));
    reap(true);
    if (heartbeat_ != MPI_REQUEST_NULL) LIBPOOL_MPI(MPI_Wait(&heartbeat_, MPI_STATUS_IGNORE));
  }

  // ---- bookkeeping ---------------------------------------------------------------------------

  KindStats* find(std::uint64_t hash) {
    if (last_kind_ < kinds_.size() && kinds_[last_kind_].hash == hash) return &kinds_[last_kind_];
    for (std::size_t i = 0; i < kinds_.size(); ++i) {
      if (kinds_[i].hash == hash) {
        last_kind_ = i;
        return &kinds_[i];
      }
    }
    return nullptr;
  }

  void record(std::uint64_t hash, double seconds) {
    KindStats* k = find(hash);
    if (!k) {
      kinds_.push_back({hash, seconds, seconds, false});
      k = &kinds_.back();
    } else {
      k->mean_s = 0.9 * k->mean_s + 0.1 * seconds;
      k->recent_max_s = std::max(seconds, kRecentDecay * k->recent_max_s);
    }
    if (seconds >= long_run_s_) k->long_seen = true;
  }

  Writer spare() {
    if (spare_.empty()) return Writer();
    Writer w = std::move(spare_.back());
    spare_.pop_back();
    w.clear();
    return w;
  }
  void recycle(Writer w) {
    if (spare_.size() < 16) spare_.push_back(std::move(w));
  }

  MPI_Comm comm_;
  TaskRunner& runner_;
  TaskThread* thread_;
  volatile std::sig_atomic_t* stop_flag_;
  bool signal_sent_ = false;
  WorkerConfig config_;
  Clock::duration heartbeat_every_;
  Clock::duration task_timeout_;
  double long_run_s_;

  Writer in_;
  MPI_Request receiving_ = MPI_REQUEST_NULL;  // in_ is being received
  int receiving_tag_ = 0;
  std::vector<Part> parts_;
  std::deque<Inbound> inbox_;         // messages on the thread, oldest first
  std::deque<std::uint64_t> hashes_;  // the kind of each of their tasks, oldest first
  Writer result_;

  Writer reply_;
  BatchCount reply_parts_ = 0;
  Clock::time_point reply_started_{};

  std::deque<Send> sends_;
  std::vector<Writer> spare_;
  MPI_Request heartbeat_ = MPI_REQUEST_NULL;
  Clock::time_point next_heartbeat_{};  // when to send one if nothing else went out before
  Clock::time_point task_deadline_ = Clock::time_point::max();

  std::vector<KindStats> kinds_;
  std::size_t last_kind_ = 0;

  bool stop_ = false;
  bool abandon_ = false;
  bool gave_up_ = false;  // a task overran and was reported
};

}  // namespace

void serve(MPI_Comm comm, TaskRunner& runner, TaskThread* thread, const WorkerConfig& config,
           volatile std::sig_atomic_t* stop_flag) {
  WorkerLoop(comm, runner, thread, config, stop_flag).run();
}

}  // namespace libpool::detail
