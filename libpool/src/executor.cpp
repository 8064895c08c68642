// The pool's master loop, worker loop and start-up handshake.
//
// Protocol (all traffic on a private MPI_Comm_dup of the user's communicator):
//
//   every rank             Allgather(registry fingerprint)     mismatch -> BrokenPool everywhere
//   rank 0 --------------- Bcast{initializer hash, args, max_tasks_per_worker} ------> workers
//   every rank that works  run initializer; Allreduce(MIN, first failing rank)
//                          failure -> Bcast(message) from that rank, BrokenPool everywhere
//
//   master (rank 0)                                          worker w (rank >= 1)
//   ---------------                                          ----------------
//   submit()/map() -> queue_ (encoded: TaskHeader+payload)
//   dispatch: each worker with < cap in flight
//     MPI_Isend --------- TASK {hash, work id, kind, args} --> Improbe/Mrecv (backoff when idle)
//                                                            decode, run, encode (TaskRunner)
//     Improbe/Mrecv <---- RESULT {work id, t0, t1, ok|error|broken, payload} -- MPI_Isend
//     in_flight[w] is FIFO: a worker answers in the order it was sent
//     decode into the future, run its callbacks
//   rank 0's own share: a thread (LocalWorker) fed through a mutex-guarded queue, no MPI;
//   on one rank: tasks run inline, inside the progress loop
//   idle: Backoff (spin, yield, sleep up to 1 ms) - Open MPI's blocking calls would spin a core
//
//   shutdown: cancel queued (cancel_futures), drain in flight,
//     MPI_Send ---------- STOP ---------------------------> leave the loop, flush result sends
//
// Progress on the master is driven by the caller: get(), wait(), as_completed(), map iteration,
// submit() (a non-blocking poke) and shutdown(). Nothing runs behind the caller's back.

#include "libpool/executor.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>

#include "backoff.hpp"
#include "libpool/environment.hpp"
#include "libpool/wait.hpp"
#include "master.hpp"
#include "mpi_check.hpp"

namespace libpool {

const char* version() noexcept {
  return LIBPOOL_VERSION;
}

namespace detail {

// ---------------------------------------------------------------------------------------------
// Small pieces used by the headers.

Clock::time_point deadline_after(Seconds timeout) {
  if (!std::isfinite(timeout.count())) return Clock::time_point::max();
  const auto now = Clock::now();
  const auto d = std::chrono::duration_cast<Clock::duration>(std::max(timeout, Seconds(0)));
  return d > Clock::time_point::max() - now ? Clock::time_point::max() : now + d;
}

void WorkBase::run_callbacks() noexcept {
  // Callbacks may add callbacks or drop the last reference to another future: take them out.
  auto cbs = std::move(callbacks);
  callbacks.clear();
  for (auto& entry : cbs) {
    try {
      entry.second();
    } catch (...) {
      std::fprintf(stderr, "libpool: a done-callback threw, ignored: %s\n",
                   describe_current_exception().c_str());
    }
  }
}

bool wait_done(WorkBase& work, Seconds timeout) {
  if (work.done()) return true;
  return work.master->progress_until([&] { return work.done(); }, deadline_after(timeout));
}

MasterCore* master_of(const std::vector<WorkBase*>& works) {
  for (auto* w : works) {
    if (!w->done()) return w->master;
  }
  return nullptr;
}

Master& master_of(Executor& ex) {
  return *ex.master_;
}
void enqueue(Master& m, std::shared_ptr<WorkBase> work, TaskKind kind) {
  m.enqueue(std::move(work), kind);
}
void cancel_pending(Master& m, WorkBase& work) {
  m.cancel(work);
}
MasterCore& core(Master& m) {
  return m;
}
void reserve_task_header(Writer& w) {
  w.grow(sizeof(TaskHeader));
}

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
// Rank 0's task thread

LocalWorker::LocalWorker(TaskRunner runner)
    : runner_(std::move(runner)), init_result_(init_promise_.get_future()) {
  thread_ = std::thread([this] {
    init_promise_.set_value(runner_.initialize());
    loop();
  });
}

std::optional<std::string> LocalWorker::initialized() {
  return init_result_.get();
}

void LocalWorker::set_epoch(std::chrono::steady_clock::time_point t) {
  std::lock_guard lock(mutex_);
  runner_.set_epoch(t);
}

LocalWorker::~LocalWorker() {
  stop_.store(true, std::memory_order_release);
  thread_.join();
}

void LocalWorker::push(const std::byte* data, std::size_t size) {
  std::lock_guard lock(mutex_);
  jobs_.push_back({data, size});
  jobs_waiting_.fetch_add(1, std::memory_order_release);
}

bool LocalWorker::pop_result(Writer& out) {
  if (results_waiting_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(mutex_);
  spare_.push_back(std::move(out));
  out = std::move(results_.front());
  results_.pop_front();
  results_waiting_.fetch_sub(1, std::memory_order_release);
  return true;
}

void LocalWorker::loop() {
  Backoff backoff;
  Writer out;
  while (true) {
    Job job{};
    bool have = false;
    if (jobs_waiting_.load(std::memory_order_acquire) != 0) {
      std::lock_guard lock(mutex_);
      job = jobs_.front();
      jobs_.pop_front();
      jobs_waiting_.fetch_sub(1, std::memory_order_release);
      have = true;
      if (!spare_.empty()) {
        out = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (!have) {
      if (stop_.load(std::memory_order_acquire)) return;
      backoff.idle();
      continue;
    }
    backoff.reset();
    out.clear();
    runner_.run(job.data, job.size, out);
    std::lock_guard lock(mutex_);
    results_.push_back(std::move(out));
    results_waiting_.fetch_add(1, std::memory_order_release);
  }
}

// ---------------------------------------------------------------------------------------------
// Master

Master::Master(const Registry& registry, std::unique_ptr<Comm> comm, int size,
               const Options& options, std::optional<TaskRunner> inline_runner,
               std::unique_ptr<LocalWorker> local)
    : registry_(registry),
      comm_(std::move(comm)),
      size_(size),
      prefetch_(options.prefetch),
      local_(std::move(local)),
      inline_(std::move(inline_runner)),
      thread_(std::this_thread::get_id()) {
  // Sized once: a Remote cannot be copied, and std::deque's move may throw, so the vector must
  // never reallocate.
  remotes_ = std::vector<Remote>(static_cast<std::size_t>(size - 1));
  for (int r = 1; r < size; ++r) remotes_[static_cast<std::size_t>(r - 1)].rank = r;
  cap_ = prefetch_ >= 0 ? 1 + static_cast<std::size_t>(prefetch_) : 2;
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

void Master::settle(const std::shared_ptr<WorkBase>& work, std::exception_ptr error) {
  work->settle(std::move(error));
  completed_.push_back(work);
}

void Master::run_callbacks() noexcept {
  while (!completed_.empty()) {
    auto done = std::move(completed_);
    completed_.clear();
    for (auto& w : done) w->run_callbacks();
  }
}

void Master::enqueue(std::shared_ptr<WorkBase> work, TaskKind kind) {
  check_thread();
  work->master = this;
  work->id = next_id_++;
  if (kind == TaskKind::Call) work->chunk = work->id;
  if (broken_ || shutdown_) {
    // A lazy map that goes on after shutdown() lands here, as in Python 3.14.
    work->finish(std::make_exception_ptr(
        broken_ ? static_cast<const Error&>(BrokenPool("pool is broken: " + *broken_))
                : Error("cannot schedule new work after shutdown")));
    return;
  }
  TaskHeader h{};
  h.task_hash = work->task_hash;
  h.work_id = work->id;
  h.kind = kind;
  std::memcpy(work->message.data(), &h, sizeof h);
  queue_.push_back(std::move(work));
  // Start it now if some worker may be idle; when all are busy, let work gather so that the
  // next progress call fills their windows in batches.
  if (in_flight_ < remotes_.size() + (local_ ? 1 : 0)) {
    dispatch();
    run_callbacks();
  }
}

bool Master::cancel(WorkBase& work) {
  if (work.state != WorkState::Pending) return work.state == WorkState::Cancelled;
  work.message = Writer();
  work.mark_cancelled();
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
      if (load >= cap_) continue;
      const std::size_t room = std::min(cap_ - load, share);
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
      settle(w, std::make_exception_ptr(Error("task message exceeds 2 GiB; send less per task")));
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
    last.batch.put(static_cast<BatchCount>(batch.size()));
    for (const auto& w : batch) {
      last.batch.put(static_cast<std::uint64_t>(w->message.size()));
      last.batch.write_bytes(w->message.data(), w->message.size());
    }
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
  for (int k = 0; k < 64; ++k) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status status;
    LIBPOOL_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_->get(), &flag, &msg, &status));
    if (!flag) break;
    int count = 0;
    LIBPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
    recv_.clear();
    recv_.grow(static_cast<std::size_t>(count));
    LIBPOOL_MPI(MPI_Mrecv(recv_.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE));
    const int rank = status.MPI_SOURCE;
    if (rank < 1 || rank >= size_ ||
        (status.MPI_TAG != kTagResult && status.MPI_TAG != kTagResultBatch)) {
      throw Error("protocol error: unexpected message (tag " + std::to_string(status.MPI_TAG) +
                  ") from rank " + std::to_string(rank));
    }
    auto& remote = remotes_[static_cast<std::size_t>(rank - 1)];
    // A batch's parts are decoded into local buffers' views before any future completes: a
    // done-callback may drive the pool again and reuse recv_.
    if (status.MPI_TAG == kTagResult) {
      complete_next(remote, recv_.data(), recv_.size());
    } else {
      Writer batch = std::move(recv_);
      Reader r(batch.data(), batch.size());
      const auto parts = r.get<BatchCount>();
      for (BatchCount i = 0; i < parts; ++i) {
        const auto len = r.get<std::uint64_t>();
        complete_next(remote, r.take(len), len);
      }
      recv_ = std::move(batch);
    }
    any = true;
  }
  return any;
}

void Master::complete_next(Remote& remote, const std::byte* msg, std::size_t n) {
  if (remote.in_flight.empty()) {
    throw Error("protocol error: unexpected result from rank " + std::to_string(remote.rank));
  }
  InFlight f = std::move(remote.in_flight.front());
  remote.in_flight.pop_front();
  --in_flight_;
  if (f.request != MPI_REQUEST_NULL) LIBPOOL_MPI(MPI_Wait(&f.request, MPI_STATUS_IGNORE));
  handle_result(f.work, msg, n, remote.rank);
}

bool Master::collect_local() {
  if (!local_) return false;
  bool any = false;
  while (local_->pop_result(local_result_)) {
    auto w = std::move(local_in_flight_.front());
    local_in_flight_.pop_front();
    --in_flight_;
    handle_result(w, local_result_.data(), local_result_.size(), 0);
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
  handle_result(w, out.data(), out.size(), 0);
  return true;
}

void Master::handle_result(const std::shared_ptr<WorkBase>& work, const std::byte* msg,
                           std::size_t n, int rank) {
  ResultHeader h{};
  if (n < sizeof h)
    throw Error("protocol error: short result message from rank " + std::to_string(rank));
  std::memcpy(&h, msg, sizeof h);
  if (h.work_id != work->id) {
    throw Error("protocol error: rank " + std::to_string(rank) + " answered work " +
                std::to_string(h.work_id) + ", expected " + std::to_string(work->id));
  }
  work->info = TaskInfo{rank, h.start_s, h.end_s};
  work->message = Writer();
  update_cap(h.end_s - h.start_s);
  if (work->done()) return;  // already failed when the pool broke

  Reader r(msg + sizeof h, n - sizeof h);
  std::exception_ptr error;
  try {
    if (h.status == ResultStatus::Ok) {
      work->decode_result(r);
    } else {
      RemoteErrorInfo info = get_error(r);
      if (h.status == ResultStatus::Broken) {
        const std::string why =
            "rank " + std::to_string(rank) + " (" + info.host + "): " + info.message;
        settle(work, std::make_exception_ptr(BrokenPool(why)));
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
      error = std::make_exception_ptr(RemoteError(std::move(info)));
    }
  } catch (...) {
    error = std::current_exception();
  }
  settle(work, error);
}

void Master::break_pool(const std::string& why) {
  if (broken_) return;
  broken_ = why;
  std::vector<std::shared_ptr<WorkBase>> pending;
  while (auto w = pop_queued()) pending.push_back(std::move(w));
  for (auto& r : remotes_) {
    for (auto& f : r.in_flight) pending.push_back(f.work);
  }
  for (auto& w : local_in_flight_) pending.push_back(w);
  const auto e = std::make_exception_ptr(BrokenPool("pool is broken: " + why));
  for (auto& w : pending) {
    if (!w->done()) settle(w, e);
  }
}

void Master::update_cap(double task_seconds) {
  if (prefetch_ >= 0) return;
  mean_task_s_ = mean_task_s_ < 0 ? task_seconds : 0.9 * mean_task_s_ + 0.1 * task_seconds;
  // Enough work in flight to cover ~100 us of hand-off latency, within [2, 16].
  const double want = 1.0 + std::ceil(100e-6 / std::max(mean_task_s_, 1e-9));
  cap_ = static_cast<std::size_t>(std::clamp(want, 2.0, 16.0));
}

bool Master::idle() const {
  if (!queue_.empty() || !local_in_flight_.empty()) return false;
  return std::all_of(remotes_.begin(), remotes_.end(),
                     [](const Remote& r) { return r.in_flight.empty(); });
}

bool Master::progress_once() {
  bool any = dispatch();
  any |= collect_remote();
  any |= collect_local();
  any |= run_inline();
  if (any) dispatch();
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
  progress_until([this] { return idle(); }, Clock::time_point::max());
  stop_workers();
}

void Master::stop_workers() noexcept {
  if (stopped_) return;
  stopped_ = true;
  for (auto& r : remotes_) MPI_Send(nullptr, 0, MPI_BYTE, r.rank, kTagStop, comm_->get());
  local_.reset();
}

void Master::abandon() noexcept {
  // Receive and drop every outstanding result (so no worker blocks on a large reply and no
  // send buffer is freed early), with no decoding and no callbacks. If even that fails, MPI is
  // unusable: abort the job rather than leave ranks waiting forever. Work left unfinished fails
  // with BrokenPool (no callbacks run), so no future is left waiting on a master that is gone.
  std::exception_ptr lost;
  auto fail = [&](WorkBase& w) {
    if (!w.done()) w.settle(lost);
  };
  try {
    lost = std::make_exception_ptr(BrokenPool("pool is broken: it failed while shutting down"));
    for (auto& w : queue_) fail(*w);
    queue_.clear();
    Backoff backoff;
    while (in_flight_ > 0) {
      bool any = false;
      int flag = 0;
      MPI_Message msg;
      MPI_Status status;
      LIBPOOL_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_->get(), &flag, &msg, &status));
      if (flag) {
        int count = 0;
        LIBPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
        recv_.clear();
        recv_.grow(static_cast<std::size_t>(count));
        LIBPOOL_MPI(MPI_Mrecv(recv_.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE));
        auto& remote = remotes_.at(static_cast<std::size_t>(status.MPI_SOURCE - 1));
        std::size_t parts = 1;
        if (status.MPI_TAG == kTagResultBatch) std::memcpy(&parts, recv_.data(), sizeof parts);
        for (std::size_t i = 0; i < parts && !remote.in_flight.empty(); ++i) {
          auto& f = remote.in_flight.front();
          if (f.request != MPI_REQUEST_NULL) LIBPOOL_MPI(MPI_Wait(&f.request, MPI_STATUS_IGNORE));
          fail(*f.work);
          remote.in_flight.pop_front();
          --in_flight_;
        }
        any = true;
      }
      while (local_ && local_->pop_result(local_result_)) {
        fail(*local_in_flight_.front());
        local_in_flight_.pop_front();
        --in_flight_;
        any = true;
      }
      if (any) {
        backoff.reset();
      } else {
        backoff.idle();
      }
    }
    stop_workers();
  } catch (...) {
    std::fprintf(stderr, "libpool: cannot shut the pool down cleanly (%s); aborting the job\n",
                 describe_current_exception().c_str());
    MPI_Abort(comm_->get(), 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker loop (ranks >= 1)

namespace {

void serve(MPI_Comm comm, TaskRunner& runner) {
  struct Send {
    Writer buffer;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::deque<Send> sends;
  std::vector<Writer> spare;
  Writer in;
  Backoff backoff;
  auto reap = [&](bool all) {
    while (!sends.empty()) {
      int done = 0;
      if (all) {
        LIBPOOL_MPI(MPI_Wait(&sends.front().request, MPI_STATUS_IGNORE));
        done = 1;
      } else {
        LIBPOOL_MPI(MPI_Test(&sends.front().request, &done, MPI_STATUS_IGNORE));
      }
      if (!done) return;
      spare.push_back(std::move(sends.front().buffer));
      sends.pop_front();
    }
  };
  while (true) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status status;
    LIBPOOL_MPI(MPI_Improbe(0, MPI_ANY_TAG, comm, &flag, &msg, &status));
    if (!flag) {
      reap(false);
      backoff.idle();
      continue;
    }
    backoff.reset();
    int count = 0;
    LIBPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
    in.clear();
    in.grow(static_cast<std::size_t>(count));
    LIBPOOL_MPI(MPI_Mrecv(in.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE));
    if (status.MPI_TAG == kTagStop) break;
    Send s;
    if (!spare.empty()) {
      s.buffer = std::move(spare.back());
      spare.pop_back();
      s.buffer.clear();
    }
    if (status.MPI_TAG == kTagTaskBatch) {
      // Run the parts in order and answer with batches of results. A reply goes out as soon
      // as it has waited kReplyFlushTime (so a long task's result is not held back until the
      // next one finishes: the master refills this worker meanwhile) or holds
      // kReplyFlushBytes (so no reply outgrows MPI's int count).
      Reader r(in.data(), in.size());
      auto left = r.get<BatchCount>();
      while (left > 0) {
        BatchCount parts = 0;
        s.buffer.put(parts);
        const auto started = std::chrono::steady_clock::now();
        while (left > 0 &&
               (parts == 0 || (s.buffer.size() < kReplyFlushBytes &&
                               std::chrono::steady_clock::now() - started < kReplyFlushTime))) {
          const auto len = r.get<std::uint64_t>();
          const std::byte* part = r.take(len);
          const std::size_t at = s.buffer.size();
          s.buffer.put(std::uint64_t{0});
          runner.run(part, len, s.buffer);
          const std::uint64_t written = s.buffer.size() - at - sizeof(std::uint64_t);
          std::memcpy(s.buffer.data() + at, &written, sizeof written);
          ++parts;
          --left;
        }
        std::memcpy(s.buffer.data(), &parts, sizeof parts);
        LIBPOOL_MPI(MPI_Isend(s.buffer.data(), static_cast<int>(s.buffer.size()), MPI_BYTE, 0,
                              kTagResultBatch, comm, &s.request));
        sends.push_back(std::move(s));
        s = Send{};
        if (!spare.empty()) {
          s.buffer = std::move(spare.back());
          spare.pop_back();
          s.buffer.clear();
        }
      }
      reap(false);
      continue;
    }
    runner.run(in.data(), in.size(), s.buffer);
    LIBPOOL_MPI(MPI_Isend(s.buffer.data(), static_cast<int>(s.buffer.size()), MPI_BYTE, 0,
                          kTagResult, comm, &s.request));
    sends.push_back(std::move(s));
    reap(false);
  }
  reap(true);
}

// Start-up agreement: registries, initializer, and its outcome on every rank.
struct Setup {
  std::shared_ptr<const InitializerSpec> init;
  std::uint64_t max_tasks = 0;
};

Setup agree_on_setup(MPI_Comm comm, int rank, int size, const Registry& registry,
                     const Options& options, std::shared_ptr<const InitializerSpec> init) {
  // 1. Registries.
  const std::uint64_t fp = registry.fingerprint();
  std::vector<std::uint64_t> fps(static_cast<std::size_t>(size));
  LIBPOOL_MPI(MPI_Allgather(&fp, 1, MPI_UINT64_T, fps.data(), 1, MPI_UINT64_T, comm));
  std::string differ;
  for (int r = 1; r < size; ++r) {
    if (fps[static_cast<std::size_t>(r)] != fps[0])
      differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!differ.empty()) {
    throw BrokenPool("task registries differ between ranks: rank(s) " + differ +
                     " registered other tasks than rank 0; register the same names everywhere");
  }

  // 2. The master's initializer and limits, broadcast. status: 0 none, 1 given, 2 unregistered,
  // 3 arguments too large.
  std::uint64_t head[4] = {0, 0, options.max_tasks_per_worker, 0};
  if (rank == 0 && init && init->fn) {
    if (const auto* e = registry.find(init->fn)) {
      head[0] = init->args.size() > kMaxMessageBytes ? 3 : 1;
      head[1] = e->hash;
      head[3] = init->args.size();
    } else {
      head[0] = 2;
    }
  }
  LIBPOOL_MPI(MPI_Bcast(head, 4, MPI_UINT64_T, 0, comm));
  if (head[0] == 2) {
    throw BrokenPool("the initializer is not registered: call registry.add(\"name\", fn) for it");
  }
  if (head[0] == 3) throw BrokenPool("the initializer's arguments exceed 2 GiB");
  Setup setup;
  setup.max_tasks = head[2];
  if (head[0] == 1) {
    auto spec = std::make_shared<InitializerSpec>();
    spec->args.grow(head[3]);
    if (rank == 0) std::memcpy(spec->args.data(), init->args.data(), head[3]);
    LIBPOOL_MPI(MPI_Bcast(spec->args.data(), static_cast<int>(head[3]), MPI_BYTE, 0, comm));
    spec->fn = registry.find(head[1])->fn;
    setup.init = std::move(spec);
  }
  return setup;
}

// Every rank reports whether its initializer ran; the first failure is told to all.
void agree_on_init(MPI_Comm comm, int rank, int size, const std::optional<std::string>& failure) {
  int mine = failure ? rank : size;
  int first = size;
  LIBPOOL_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) return;
  std::string text;
  std::uint64_t len = 0;
  if (rank == first) {
    text = "initializer failed on rank " + std::to_string(rank) + " (" + processor_name() +
           "): " + *failure;
    len = text.size();
  }
  LIBPOOL_MPI(MPI_Bcast(&len, 1, MPI_UINT64_T, first, comm));
  text.resize(len);
  LIBPOOL_MPI(MPI_Bcast(text.data(), static_cast<int>(len), MPI_CHAR, first, comm));
  throw BrokenPool(text);
}

}  // namespace
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Executor

Executor::Executor(const Registry& registry, const Options& options, MPI_Comm comm)
    : registry_(registry) {
  int initialised = 0;
  detail::mpi_check(MPI_Initialized(&initialised), "MPI_Initialized");
  if (!initialised) throw Error("MPI is not initialised: create a libpool::Environment first");
  auto c = std::make_unique<detail::Comm>(comm);
  LIBPOOL_MPI(MPI_Comm_rank(c->get(), &rank_));
  LIBPOOL_MPI(MPI_Comm_size(c->get(), &size_));

  // Does rank 0 run tasks? Always on one rank; otherwise per options, and only if MPI lets a
  // second thread exist (it never calls MPI, but MPI_THREAD_SINGLE forbids threads at all).
  int level = MPI_THREAD_SINGLE;
  LIBPOOL_MPI(MPI_Query_thread(&level));
  bool master_works = size_ == 1;
  if (size_ > 1 && level >= MPI_THREAD_FUNNELED) {
    master_works = options.master_works == MasterWorks::Yes ||
                   (options.master_works == MasterWorks::Auto && size_ <= 8);
  }
  const bool runs_tasks = rank_ != 0 || master_works;

  auto setup = detail::agree_on_setup(c->get(), rank_, size_, registry, options,
                                      rank_ == 0 ? options.init_ : nullptr);
  detail::TaskRunner runner(registry, setup.init, setup.max_tasks,
                            {rank_, size_, processor_name(), std::chrono::steady_clock::now()});
  std::optional<std::string> failure;
  std::unique_ptr<detail::LocalWorker> local;
  if (rank_ == 0 && master_works && size_ > 1) {
    local = std::make_unique<detail::LocalWorker>(std::move(runner));  // runs the initializer
    failure = local->initialized();
  } else if (runs_tasks) {
    failure = runner.initialize();
  }
  detail::agree_on_init(c->get(), rank_, size_, failure);
  // The last collective is a common instant: each rank's clock for TaskInfo starts here.
  const auto epoch = std::chrono::steady_clock::now();

  if (rank_ != 0) {
    runner.set_epoch(epoch);
    detail::serve(c->get(), runner);
    return;
  }
  std::optional<detail::TaskRunner> inline_runner;
  if (local) {
    local->set_epoch(epoch);
  } else if (size_ == 1) {
    runner.set_epoch(epoch);
    inline_runner.emplace(std::move(runner));
  }
  master_ = std::make_unique<detail::Master>(registry, std::move(c), size_, options,
                                             std::move(inline_runner), std::move(local));
}

Executor::~Executor() = default;

std::size_t Executor::workers() const noexcept {
  return master_ ? master_->workers() : static_cast<std::size_t>(size_ - 1);
}

void Executor::check_can_submit() const {
  if (!master_)
    throw Error("submit/map called on worker rank " + std::to_string(rank_) +
                "; only the master (rank 0) submits work");
  if (master_->broken()) throw BrokenPool("pool is broken: " + *master_->broken());
  if (!master_->accepting()) throw Error("cannot schedule new work after shutdown");
}

detail::MapContext Executor::map_context_base() const {
  detail::MapContext ctx;
  if (master_) {
    ctx.master = master_.get();
    ctx.workers = std::max<std::size_t>(1, master_->workers());
    ctx.in_flight = master_->in_flight_cap();
  }
  return ctx;
}

void Executor::shutdown(bool wait, bool cancel_futures) {
  if (master_) master_->shutdown(wait, cancel_futures);
}

}  // namespace libpool
