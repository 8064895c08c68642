// The master (rank 0): its dispatch and collection loop (the worker loop is in worker.cpp, the
// start-up handshake in startup.cpp, every message's layout in detail/protocol.hpp).
//
// Protocol (all traffic on a private MPI_Comm_dup of the user's communicator):
//
//   every rank             Allgather(registry fingerprint, has threads)   mismatch -> BrokenPool
//   every rank ----------- Gather(processor name) ------------------------------> rank 0
//   rank 0 --------------- Bcast{initializer hash, args, max_tasks_per_worker,
//                                heartbeat_interval, task_timeout, inline_below} --> workers
//   every rank that works  run initializer (on its task thread); Allreduce(MIN, first failing
//                          rank); failure -> Bcast(message) from that rank, BrokenPool everywhere
//
//   master (rank 0)                                   worker w (rank >= 1): MPI (main) thread
//   ---------------                                   and a task thread that never calls MPI
//   submit()/map() -> queue_ (encoded: TaskHeader+payload)
//   dispatch: each worker with < cap in flight
//     MPI_Isend ---- TASK {hash, work id, kind, args} -> Improbe/Mrecv (backoff when idle)
//                    (or TASK_BATCH of small ones)       tiny known kinds: run inline here;
//                                                        else hand the message to the task
//                                                        thread and sleep until its reply
//     Improbe/Mrecv <- RESULT {work id, t0, t1, ok|error|broken, payload} -- MPI_Isend
//                      (or RESULT_BATCH)
//     in_flight[w] is FIFO: a worker answers in the order it was sent
//     decode into the future, run its callbacks
//                   <- HEARTBEAT {} ------------------ when nothing was sent for
//                                                      heartbeat_interval (0.5 s)
//                   <- TASK_TIMEOUT {work id, s, host}  the task thread's task ran past
//                                                      task_timeout; nothing more after it
//                   <- SIGNAL {int32} ---------------- once, when Options::stop_flag is set
//     worker_signal() = (w, signal): the program decides (a batch run drains and stops)
//     signal_workers(s):
//     MPI_Send ---------- SIGNAL {int32} --------------> stop_flag = s (tasks watching it stop)
//   liveness: any message marks w heard; with the incoming queue drained, w silent for
//     worker_timeout (5 s) -> WorkerLost; TASK_TIMEOUT, or rank 0's own task past the limit
//     -> TaskTimeout. Either breaks the pool: every pending future gets the error, the lost
//     rank's in-flight entries are dropped (sends not waited for: their buffers are kept).
//   rank 0's own share: a task thread fed through a mutex-guarded queue, no MPI;
//   on one rank: tasks run inline, inside the progress loop (task_timeout checked after)
//   idle: Backoff (spin, yield, sleep up to 1 ms) - Open MPI's blocking calls would spin a core
//
//   shutdown: cancel queued (cancel_futures), drain in flight,
//     MPI_Send ---------- STOP {Normal} ----------------> leave the loop, flush result sends
//     Improbe/Mrecv <---- STOP {} ----------------------- the worker's last message: the
//                                                        communicator is then freed clean
//   after a loss (WorkerLost, TaskTimeout): wait for nobody
//     MPI_Isend --------- STOP {Abandon} ---------------> drop queued tasks, send nothing more,
//                                                        leave once the running task returns
//     the communicator is never freed (a lost rank may still send on it; a freed context id
//     would be reused); rank 0's task thread, if stuck, is detached. The application should
//     save its state and call abort_job(): a stopped or stuck rank cannot be made to leave.
//
// Progress on the master is driven by the caller: get(), wait(), as_completed(), map iteration,
// submit() (a non-blocking poke) and shutdown(). Nothing runs behind the caller's back.

#include "master.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "backoff.hpp"
#include "mpi_check.hpp"

namespace libpool::detail {

// ---------------------------------------------------------------------------------------------
// Communicator

Comm::Comm(MPI_Comm parent) {
  LIBPOOL_MPI(MPI_Comm_dup(parent, &comm_));
  LIBPOOL_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
}
Comm::~Comm() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

// ---------------------------------------------------------------------------------------------
// Master

Master::Master(const Registry& registry, std::unique_ptr<Comm> comm, int size,
               const Options& options, Liveness liveness, std::optional<TaskRunner> inline_runner,
               std::unique_ptr<TaskThread> local)
    : registry_(registry),
      comm_(std::move(comm)),
      size_(size),
      liveness_(std::move(liveness)),
      local_(std::move(local)),
      inline_(std::move(inline_runner)),
      thread_(std::this_thread::get_id()) {
  // Sized once: a Remote cannot be copied, and std::deque's move may throw, so the vector must
  // never reallocate.
  remotes_ = std::vector<Remote>(static_cast<std::size_t>(size - 1));
  // The workers started serving at the collective that ended just before: every one counts as
  // heard from now.
  const auto now = Clock::now();
  for (int r = 1; r < size; ++r) {
    auto& remote = remotes_[static_cast<std::size_t>(r - 1)];
    remote.rank = r;
    remote.last_heard = now;
  }
  adaptive_window_ = options.prefetch < 0;
  window_ = adaptive_window_ ? 2 : 1 + static_cast<std::size_t>(options.prefetch);
  watching_ = (liveness_.worker_timeout_s > 0 && !remotes_.empty()) ||
              (liveness_.task_timeout_s > 0 && local_);
}

Master::~Master() {
  try {
    // Python's `with` exit: shutdown(wait=True), also while an exception unwinds, so queued work
    // completes. A broken pool has already failed its queue, so it only waits for the tasks
    // still running on its workers.
    shutdown(true, false);
  } catch (...) {
    // A destructor must not throw, and no worker may be left waiting: collect what is still
    // out without running anything of the user's, then release the workers.
    abandon();
  }
}

void Master::check_thread() const {
  // MPI runs FUNNELED and the master's state is not locked: one thread drives the pool.
  if (std::this_thread::get_id() != thread_) {
    throw Error("libpool: the pool must be used from the thread that created it");
  }
}

void Master::complete(const std::shared_ptr<WorkBase>& work, std::exception_ptr error) {
  work->settle(std::move(error));
  completed_.push_back(work);
}

void Master::complete_cancelled(WorkBase& work) {
  work.message = Writer();
  work.settle_cancelled();
  // The caller holds cancelled work until cancel() returns, which runs its callbacks.
  cancelled_.push_back(&work);
}

void Master::run_callbacks() noexcept {
  while (!completed_.empty() || !cancelled_.empty()) {
    auto cancelled = std::move(cancelled_);
    cancelled_.clear();
    for (auto* w : cancelled) w->run_callbacks();
    auto done = std::move(completed_);
    completed_.clear();
    for (auto& w : done) w->run_callbacks();
  }
}

void Master::check_accepting() const {
  if (broken_) std::rethrow_exception(broken_error_);
  if (shutdown_) throw Error("cannot schedule new work after shutdown");
}

void Master::fail(std::shared_ptr<WorkBase> work, std::exception_ptr error) {
  check_thread();
  work->master = this;
  complete(work, std::move(error));
  run_callbacks();
}

void Master::enqueue(std::shared_ptr<WorkBase> work, TaskKind kind) {
  check_thread();
  work->master = this;
  work->id = next_id_++;
  if (broken_ || shutdown_) {
    // A lazy map that goes on after shutdown() lands here, as in Python 3.14.
    complete(work, broken_
                       ? broken_error_
                       : std::make_exception_ptr(Error("cannot schedule new work after shutdown")));
    run_callbacks();
    return;
  }
  write_task_header(work->message, TaskHeader{work->task_hash, work->id, kind, {}});
  queue_.push_back(std::move(work));
  // Start it now if some worker may be idle; when all are busy, let work gather so that the
  // next progress call fills their windows in batches.
  if (in_flight_ < remotes_.size() + (local_ ? 1 : 0)) dispatch();
  run_callbacks();
}

void Master::signal_workers(int signal) {
  const std::int32_t sig = signal;
  // Four bytes go eagerly: the send returns at once, whatever the worker is doing.
  for (auto& r : remotes_)
    if (!r.lost && !r.said_bye)
      LIBPOOL_MPI(MPI_Send(&sig, sizeof sig, MPI_BYTE, r.rank, kTagSignal, comm_->get()));
}

bool Master::cancel(WorkBase& work) {
  if (work.state != WorkState::Pending) return work.state == WorkState::Cancelled;
  complete_cancelled(work);
  run_callbacks();
  return true;
}

std::shared_ptr<WorkBase> Master::pop_queued() {
  while (!queue_.empty()) {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    if (w->state == WorkState::Pending) return w;
  }
  return nullptr;
}

bool Master::dispatch() {
  if (inline_ || queue_.empty()) return false;
  bool any = false;
  // Rank 0's task thread shares a core with this loop. For tiny tasks the loop is the
  // bottleneck and the thread would only slow it down, so it gets work only when tasks are long
  // enough (or before any has been timed).
  const bool feed_local =
      local_ && (mean_task_s_ < 0 || mean_task_s_ >= kLocalMinTaskSeconds || remotes_.empty());
  const std::size_t targets = remotes_.size() + (feed_local ? 1 : 0);
  bool progressed = true;
  while (progressed && !queue_.empty()) {
    progressed = false;
    // An even share of the queue per target and round, so that a few long tasks spread out
    // while a long queue of tiny ones goes out in batches that fill each worker's window.
    const std::size_t share = std::max<std::size_t>(1, queue_.size() / targets);
    for (std::size_t k = 0; k < targets && !queue_.empty(); ++k) {
      const std::size_t t = (rr_ + k) % targets;
      const bool is_local = t == remotes_.size();
      const std::size_t load = is_local ? local_in_flight_.size() : remotes_[t].in_flight.size();
      if (load >= window_) continue;
      const std::size_t room = std::min(window_ - load, share);
      if (is_local) {
        for (std::size_t i = 0; i < room; ++i) {
          auto w = pop_queued();
          if (!w) break;
          w->state = WorkState::Running;
          local_->push(w->message.data(), w->message.size());
          local_in_flight_.push_back(std::move(w));
          ++in_flight_;
          progressed = any = true;
        }
      } else if (send_to(remotes_[t], room)) {
        progressed = any = true;
      }
    }
    rr_ = (rr_ + 1) % std::max<std::size_t>(targets, 1);
  }
  return any;
}

bool Master::send_to(Remote& remote, std::size_t room) {
  std::vector<std::shared_ptr<WorkBase>> batch;
  std::size_t bytes = 0;
  while (batch.size() < room) {
    auto w = pop_queued();
    if (!w) break;
    if (w->message.size() > kMaxMessageBytes) {
      complete(w, std::make_exception_ptr(Error("task message exceeds 2 GiB; send less per task")));
      continue;
    }
    // Small tasks travel together; a large one goes alone, straight from its own buffer.
    if (!batch.empty() &&
        (bytes + w->message.size() > kBatchBytes || w->message.size() > kBatchBytes)) {
      queue_.push_front(std::move(w));
      break;
    }
    bytes += w->message.size();
    w->state = WorkState::Running;
    batch.push_back(std::move(w));
  }
  if (batch.empty()) return false;
  InFlight last{nullptr, MPI_REQUEST_NULL, Writer()};
  if (batch.size() == 1) {
    last.work = batch.front();
    LIBPOOL_MPI(MPI_Isend(last.work->message.data(), static_cast<int>(last.work->message.size()),
                          MPI_BYTE, remote.rank, kTagTask, comm_->get(), &last.request));
  } else {
    last.batch.reserve(bytes + sizeof(BatchCount) * (batch.size() + 1));
    begin_batch(last.batch);
    for (const auto& w : batch) put_part(last.batch, w->message.data(), w->message.size());
    set_batch_count(last.batch, batch.size());
    LIBPOOL_MPI(MPI_Isend(last.batch.data(), static_cast<int>(last.batch.size()), MPI_BYTE,
                          remote.rank, kTagTaskBatch, comm_->get(), &last.request));
  }
  // The send's request and buffer ride with the batch's last task: its result is the last of
  // the batch to come back, and by then the send is long complete.
  for (std::size_t i = 0; i + 1 < batch.size(); ++i) {
    remote.in_flight.push_back({std::move(batch[i]), MPI_REQUEST_NULL, Writer()});
    ++in_flight_;
  }
  last.work = std::move(batch.back());
  remote.in_flight.push_back(std::move(last));
  ++in_flight_;
  return true;
}

bool Master::collect_remote() {
  bool any = false;
  drained_ = false;
  received_ = 0;
  for (int k = 0; k < 64; ++k) {
    if (receiving_.request == MPI_REQUEST_NULL) {
      int flag = 0;
      MPI_Message msg;
      MPI_Status status;
      LIBPOOL_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_->get(), &flag, &msg, &status));
      if (!flag) {
        drained_ = true;
        break;
      }
      int count = 0;
      LIBPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
      recv_.clear();
      recv_.grow(static_cast<std::size_t>(count));
      // Not MPI_Mrecv: a large message needs its sender's progress to arrive, and a sender
      // stopped half-way must not hang the master (see receive_stalled).
      LIBPOOL_MPI(MPI_Imrecv(recv_.data(), count, MPI_BYTE, &msg, &receiving_.request));
      receiving_.rank = status.MPI_SOURCE;
      receiving_.tag = status.MPI_TAG;
      receiving_.since = Clock::time_point{};
    }
    int done = 0;
    LIBPOOL_MPI(MPI_Test(&receiving_.request, &done, MPI_STATUS_IGNORE));
    if (!done) {
      any = true;  // a message is arriving: poll again at once, as a blocking receive would
      receive_stalled();
      break;
    }
    ++received_;
    const int rank = receiving_.rank;
    const int tag = receiving_.tag;
    if (rank < 1 || rank >= size_) {
      throw Error("protocol error: message (tag " + std::to_string(tag) + ") from rank " +
                  std::to_string(rank));
    }
    auto& remote = remotes_[static_cast<std::size_t>(rank - 1)];
    remote.heard = true;        // any message counts
    if (remote.lost) continue;  // given up on: whatever it still sends is dropped
    switch (tag) {
      case kTagResult:
        complete_next(remote, recv_.data(), recv_.size());
        break;
      case kTagResultBatch: {
        // A batch's parts are decoded into local buffers' views before any future completes: a
        // done-callback may drive the pool again and reuse recv_.
        Writer batch = std::move(recv_);
        BatchReader parts(batch.data(), batch.size());
        const std::byte* part = nullptr;
        std::size_t len = 0;
        while (parts.next(part, len)) complete_next(remote, part, len);
        recv_ = std::move(batch);
        break;
      }
      case kTagHeartbeat:
        continue;  // heard, and nothing else: not progress
      case kTagTaskTimeout:
        on_task_timeout(remote, recv_.data(), recv_.size());
        break;
      case kTagSignal: {
        std::int32_t sig = 0;
        if (recv_.size() == sizeof sig) std::memcpy(&sig, recv_.data(), sizeof sig);
        if (!worker_signal_) worker_signal_ = std::pair<int, int>(rank, sig);
        continue;  // heard, not progress
      }
      case kTagStop:
        remote.said_bye = true;
        break;
      default:
        throw Error("protocol error: unexpected message (tag " + std::to_string(tag) +
                    ") from rank " + std::to_string(rank));
    }
    any = true;
  }
  return any;
}

void Master::receive_stalled() {
  const auto now = Clock::now();
  if (receiving_.since == Clock::time_point{}) {
    receiving_.since = now;
    return;
  }
  // A live sender keeps pushing its message: give it worker_timeout plus 10 s per GB (a slow
  // network) before the rank counts as lost. Its buffer may still be written into: kept.
  const double limit = liveness_.worker_timeout_s;
  const double allowed = limit + static_cast<double>(recv_.size()) * 1e-8;
  if (limit <= 0 || std::chrono::duration<double>(now - receiving_.since).count() <= allowed) {
    return;
  }
  auto& remote = remotes_[static_cast<std::size_t>(receiving_.rank - 1)];
  MPI_Request_free(&receiving_.request);
  receiving_.request = MPI_REQUEST_NULL;
  keep_forever(std::move(recv_));
  recv_ = Writer();
  if (remote.lost) return;
  const double silent = std::chrono::duration<double>(now - receiving_.since).count();
  WorkerLost e(remote.rank, where(nullptr, remote.rank).host, silent);
  const std::string why = e.what();
  lose_remote(remote, std::make_exception_ptr(std::move(e)), why);
}

void Master::complete_next(Remote& remote, const std::byte* msg, std::size_t n) {
  if (remote.in_flight.empty()) {
    throw Error("protocol error: unexpected result from rank " + std::to_string(remote.rank));
  }
  InFlight f = std::move(remote.in_flight.front());
  remote.in_flight.pop_front();
  --in_flight_;
  if (f.request != MPI_REQUEST_NULL) LIBPOOL_MPI(MPI_Wait(&f.request, MPI_STATUS_IGNORE));
  if (discarding_) {
    if (!f.work->done()) f.work->settle(abandoned_);
    return;
  }
  handle_result(f.work, msg, n, remote.rank);
}

bool Master::collect_local() {
  if (!local_) return false;
  bool any = false;
  while (local_->pop_result(local_result_)) {
    auto w = std::move(local_in_flight_.front());
    local_in_flight_.pop_front();
    --in_flight_;
    if (!discarding_) {
      handle_result(w, local_result_.data(), local_result_.size(), 0);
    } else if (!w->done()) {
      w->settle(abandoned_);
    }
    any = true;
  }
  return any;
}

bool Master::run_inline() {
  if (!inline_) return false;
  auto w = pop_queued();
  if (!w) return false;
  w->state = WorkState::Running;
  Writer out;
  inline_->run(w->message.data(), w->message.size(), out);
  if (liveness_.task_timeout_s > 0) {
    // Inline tasks cannot be interrupted: the limit is checked once the task has returned.
    const ResultHeader h = read_result_header(out.data(), out.size());
    const double took = h.end_s - h.start_s;
    if (took > liveness_.task_timeout_s) {
      w->info = TaskInfo{0, h.start_s, h.end_s};
      w->message = Writer();
      TaskTimeout e(where(w.get(), 0), liveness_.task_timeout_s, took);
      const std::string why = e.what();
      const auto error = std::make_exception_ptr(std::move(e));
      complete(w, error);
      break_pool(error, why);
      return true;
    }
  }
  handle_result(w, out.data(), out.size(), 0);
  return true;
}

void Master::handle_result(const std::shared_ptr<WorkBase>& work, const std::byte* msg,
                           std::size_t n, int rank) {
  if (n < sizeof(ResultHeader))
    throw Error("protocol error: short result message from rank " + std::to_string(rank));
  const ResultHeader h = read_result_header(msg, n);
  if (h.work_id != work->id) {
    throw Error("protocol error: rank " + std::to_string(rank) + " answered work " +
                std::to_string(h.work_id) + ", expected " + std::to_string(work->id));
  }
  work->info = TaskInfo{rank, h.start_s, h.end_s};
  work->message = Writer();
  update_window(h.end_s - h.start_s);
  if (work->done()) return;  // already failed when the pool broke

  Reader r(msg + sizeof h, n - sizeof h);
  std::exception_ptr error;
  try {
    if (h.status == ResultStatus::Ok) {
      work->decode_result(r);
    } else {
      RemoteErrorInfo info = read_error(r);
      if (h.status == ResultStatus::Broken) {
        const std::string why =
            "rank " + std::to_string(rank) + " (" + info.host + "): " + info.message;
        complete(work, std::make_exception_ptr(BrokenPool(why)));
        break_pool(why);
        return;
      }
      info.rank = rank;
      info.ranks = size_;
      info.chunk = work->chunk;
      info.item_begin = work->item_begin;
      info.item_count = work->item_count;
      // The master's registry has the name; the worker only sent the hash.
      if (const auto* e = registry_.find(work->task_hash)) info.task = e->name;
      error = make_remote_error(std::move(info));
    }
  } catch (...) {
    error = std::current_exception();
  }
  complete(work, error);
}

void Master::break_pool(const std::string& why) {
  break_pool(std::make_exception_ptr(BrokenPool("pool is broken: " + why)), why);
}

void Master::break_pool(std::exception_ptr error, const std::string& why) {
  if (broken_) return;
  broken_ = why;
  broken_error_ = error;
  std::vector<std::shared_ptr<WorkBase>> pending;
  while (auto w = pop_queued()) pending.push_back(std::move(w));
  for (auto& r : remotes_) {
    for (auto& f : r.in_flight) pending.push_back(f.work);
  }
  for (auto& w : local_in_flight_) pending.push_back(w);
  for (auto& w : pending) {
    if (!w->done()) complete(w, error);
  }
}

RemoteErrorInfo Master::where(const WorkBase* work, int rank) const {
  RemoteErrorInfo info;
  info.rank = rank;
  info.ranks = size_;
  if (static_cast<std::size_t>(rank) < liveness_.hosts.size()) {
    info.host = liveness_.hosts[static_cast<std::size_t>(rank)];
  }
  if (work) {
    info.chunk = work->chunk;
    info.item_begin = work->item_begin;
    info.item_count = work->item_count;
    if (const auto* e = registry_.find(work->task_hash)) info.task = e->name;
  }
  return info;
}

bool Master::drain_incoming() {
  // Open MPI's MPI_Improbe matches against what has already been taken in and polls the
  // transports only after a miss: after a long pause the first probe says "nothing" while
  // messages wait in shared memory. The queue is known empty after two empty probes in a row.
  int empty = 0;
  for (int round = 0; round < 10000 && empty < 2; ++round) {
    collect_remote();
    empty = drained_ && received_ == 0 ? empty + 1 : 0;
  }
  return empty >= 2;
}

void Master::check_health() {
  const auto now = Clock::now();
  if (now < next_check_) return;
  next_check_ = now + std::chrono::milliseconds(1);
  const double limit = liveness_.worker_timeout_s;
  // A rank heard from since the last check counts as heard now.
  const auto heard_now = [&](Remote& r) {
    if (!r.heard) return false;
    r.heard = false;
    r.last_heard = now;
    return true;
  };
  bool suspect = false;
  for (auto& r : remotes_) {
    if (r.lost || r.said_bye || heard_now(r)) continue;
    if (limit > 0 && std::chrono::duration<double>(now - r.last_heard).count() > limit) {
      suspect = true;
    }
  }
  // Judge only with everything that has arrived taken in: a master that was busy elsewhere for
  // a while first receives what came meanwhile (any message counts as heard now).
  if (suspect && drain_incoming()) {
    for (auto& r : remotes_) {
      if (r.lost || r.said_bye || heard_now(r)) continue;
      const double silent = std::chrono::duration<double>(now - r.last_heard).count();
      if (silent > limit) {
        const auto host = where(nullptr, r.rank).host;
        WorkerLost e(r.rank, host, silent);
        const std::string why = e.what();
        lose_remote(r, std::make_exception_ptr(std::move(e)), why);
      }
    }
  }
  // Rank 0's task thread: its running task against the task timeout.
  if (local_ && !local_lost_ && liveness_.task_timeout_s > 0) {
    if (const auto run = local_->running()) {
      const double took = std::chrono::duration<double>(now - run->since).count();
      if (took > liveness_.task_timeout_s) {
        const WorkBase* work = nullptr;
        for (const auto& w : local_in_flight_) {
          if (w->id == run->work_id) work = w.get();
        }
        TaskTimeout e(where(work, 0), liveness_.task_timeout_s, took);
        const std::string why = e.what();
        local_lost_ = true;
        lost_ = true;
        break_pool(std::make_exception_ptr(std::move(e)), why);
      }
    }
  }
}

void Master::on_task_timeout(Remote& remote, const std::byte* msg, std::size_t n) {
  const TaskTimeoutReport report = read_task_timeout(msg, n);
  const WorkBase* work = nullptr;
  for (const auto& f : remote.in_flight) {
    if (f.work->id == report.work_id) work = f.work.get();
  }
  RemoteErrorInfo info = where(work, remote.rank);
  info.host = report.host;
  TaskTimeout e(std::move(info), liveness_.task_timeout_s, report.seconds);
  const std::string why = e.what();
  lose_remote(remote, std::make_exception_ptr(std::move(e)), why);
}

void Master::lose_remote(Remote& remote, std::exception_ptr error, const std::string& why) {
  remote.lost = true;
  lost_ = true;
  break_pool(std::move(error), why);
  drop_in_flight(remote);
}

void Master::drop_in_flight(Remote& remote) {
  for (auto& f : remote.in_flight) {
    if (f.request != MPI_REQUEST_NULL) {
      // Do not wait for the send: the rank may never receive it. MPI may still read the buffer,
      // so it is kept for the life of the process.
      int done = 0;
      if (MPI_Test(&f.request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done) {
        if (f.request != MPI_REQUEST_NULL) MPI_Request_free(&f.request);
        keep_forever(f.batch.size() > 0 ? std::move(f.batch) : std::move(f.work->message));
      }
    }
    --in_flight_;
  }
  remote.in_flight.clear();
}

void Master::update_window(double task_seconds) {
  if (!adaptive_window_) return;
  mean_task_s_ = mean_task_s_ < 0 ? task_seconds : 0.9 * mean_task_s_ + 0.1 * task_seconds;
  // Enough work in flight to cover ~100 us of hand-off latency, within [2, 16].
  const double want = 1.0 + std::ceil(100e-6 / std::max(mean_task_s_, 1e-9));
  window_ = static_cast<std::size_t>(std::clamp(want, 2.0, 16.0));
}

bool Master::idle() const {
  if (!queue_.empty() || !local_in_flight_.empty()) return false;
  return std::all_of(remotes_.begin(), remotes_.end(),
                     [](const Remote& r) { return r.in_flight.empty(); });
}

bool Master::progress_once() {
  if (stopped_) {  // the workers have left (after a loss, without answering)
    run_callbacks();
    return false;
  }
  bool any = dispatch();
  any |= collect_remote();
  any |= collect_local();
  any |= run_inline();
  if (any) dispatch();
  // Liveness and timeouts: on idle polls (at most every ms), and every 64th busy one.
  if (watching_ && !stopped_ && (!any || (++polls_ & 63) == 0)) check_health();
  // Only now, with every queue and window consistent, may user code run (and re-enter).
  run_callbacks();
  return any;
}

bool Master::progress_until(const std::function<bool()>& done, Clock::time_point deadline) {
  check_thread();
  // While tasks are long, every worker holds the next one already, so the loop may sleep longer
  // (a quarter of a task, up to 10 ms): each wake-up takes the core from rank 0's task thread.
  const double quarter = mean_task_s_ > 0 ? mean_task_s_ / 4 : 0;
  const auto max_sleep = std::chrono::microseconds(
      static_cast<std::int64_t>(std::clamp(quarter * 1e6, 1000.0, 10000.0)));
  Backoff backoff(/*may_yield=*/local_ == nullptr, max_sleep);
  while (!done()) {
    const bool progressed = progress_once();
    if (done()) return true;
    // After every round, so that the deadline also counts between inline tasks on one rank
    // (each round runs one), and a zero timeout still lets the pool take one step.
    if (deadline != Clock::time_point::max() && Clock::now() >= deadline) return false;
    if (progressed) {
      backoff.reset();
      continue;
    }
    // Nothing queued or running: what is awaited can no longer happen here.
    if (idle()) return false;
    backoff.idle();
  }
  return true;
}

void Master::shutdown(bool wait, bool cancel_futures) {
  if (stopped_) return;
  shutdown_ = true;
  if (cancel_futures) {
    std::vector<std::shared_ptr<WorkBase>> queued;
    while (auto w = pop_queued()) queued.push_back(std::move(w));
    for (auto& w : queued) cancel(*w);
  }
  if (!wait) return;
  // After a loss nothing is awaited: the lost rank may never answer, and every future of the
  // pool already holds the error.
  if (!lost_) progress_until([this] { return idle() || lost_; }, Clock::time_point::max());
  stop_workers();
}

void Master::stop_workers() noexcept {
  if (stopped_) return;
  stopped_ = true;
  if (!lost_) {
    const auto mode = StopMode::Normal;
    for (auto& r : remotes_) MPI_Send(&mode, 1, MPI_BYTE, r.rank, kTagStop, comm_->get());
    await_goodbyes();
    if (!lost_) {
      local_.reset();
      return;
    }
  } else {
    // Wait for nobody: every worker is told to drop its queue, send nothing more and leave.
    static const auto abandon = StopMode::Abandon;
    for (auto& r : remotes_) {
      MPI_Request request = MPI_REQUEST_NULL;
      if (MPI_Isend(&abandon, 1, MPI_BYTE, r.rank, kTagStop, comm_->get(), &request) ==
              MPI_SUCCESS &&
          request != MPI_REQUEST_NULL) {
        MPI_Request_free(&request);
      }
    }
  }
  for (auto& r : remotes_) drop_in_flight(r);
  if (receiving_.request != MPI_REQUEST_NULL) {  // a message half-way in: MPI may still write it
    MPI_Request_free(&receiving_.request);
    keep_forever(std::move(recv_));
  }
  // Rank 0's task thread may be in a task that will not end soon: leave it behind, with the
  // messages it may still read.
  if (local_) {
    std::vector<Writer> keep;
    for (auto& w : local_in_flight_) keep.push_back(std::move(w->message));
    local_->abandon(std::move(keep));
    local_.reset();
  }
  in_flight_ -= std::min(in_flight_, local_in_flight_.size());
  local_in_flight_.clear();
  // A rank that was given up on may still send: never free (and so never reuse) this context.
  comm_->leak();
}

void Master::await_goodbyes() noexcept {
  // Each worker answers a normal stop with its last message; after it, nothing more comes from
  // that rank on this communicator, which can then be freed safely. A rank that goes silent
  // meanwhile is lost as usual (after 10 s when worker_timeout is 0).
  try {
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    Backoff backoff(/*may_yield=*/true);
    while (!std::all_of(remotes_.begin(), remotes_.end(),
                        [](const Remote& r) { return r.said_bye || r.lost; })) {
      const bool any = collect_remote();
      if (liveness_.worker_timeout_s > 0) {
        check_health();
      } else if (Clock::now() > give_up) {
        lost_ = true;
        return;
      }
      if (any) {
        backoff.reset();
      } else {
        backoff.idle();
      }
    }
  } catch (...) {
    lost_ = true;  // cannot tell what the workers still send: keep the communicator
  }
}

void Master::abandon() noexcept {
  // Receive and drop every outstanding result (so no worker blocks on a large reply and no
  // send buffer is freed early), with no decoding and no callbacks; once a rank is lost, wait
  // for nobody. Work left unfinished fails with BrokenPool (no callbacks run), so no future is
  // left waiting on a master that is gone. If even that fails, MPI is unusable: abort the job
  // rather than leave ranks waiting forever.
  try {
    abandoned_ =
        std::make_exception_ptr(BrokenPool("pool is broken: it failed while shutting down"));
    for (auto& w : queue_) {
      if (!w->done()) w->settle(abandoned_);
    }
    queue_.clear();
    discarding_ = true;
    Backoff backoff;
    while (in_flight_ > 0 && !lost_) {
      bool any = collect_remote();
      any |= collect_local();
      if (watching_) check_health();
      if (any) {
        backoff.reset();
      } else {
        backoff.idle();
      }
    }
    for (auto& r : remotes_) {
      for (auto& f : r.in_flight) {
        if (!f.work->done()) f.work->settle(abandoned_);
      }
    }
    for (auto& w : local_in_flight_) {
      if (!w->done()) w->settle(abandoned_);
    }
    stop_workers();
  } catch (...) {
    std::fprintf(stderr, "libpool: cannot shut the pool down cleanly (%s); aborting the job\n",
                 describe_current_exception().c_str());
    MPI_Abort(comm_->get() != MPI_COMM_NULL ? comm_->get() : MPI_COMM_WORLD, 1);
  }
}

}  // namespace libpool::detail
