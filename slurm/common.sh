# Shared by slurm/*.sbatch: find poolrun (or a program of your own), launch it on the allocation, forward Slurm's warning
# signal, read the outcome from the output file, requeue after a time limit. See slurm/README.md.
#
# Settings (environment, all optional):
#   POOLRUN / POOLREPORT    the binaries (else PATH, else the source tree's build folder)
#   LIBPOOL_LAUNCHER        srun | mpirun | auto (default: srun when Slurm offers PMIx)
#   LIBPOOL_CONFIG          the TOML config (default: configs/<workload>.toml of the source tree)
#   LIBPOOL_OUTPUT          the output file (default: <job name>-<job id>[_<array task>].h5,
#                           beside the job's log in the submit directory, with the workload's
#                           name for poolrun.sbatch's default job name); -o in the arguments
#                           wins
#   LIBPOOL_MAX_REQUEUES    how many times a job requeues itself after its time limit (default 5)
#   LIBPOOL_LAUNCH_RETRIES  how many times a launch that died before computing anything is
#                           launched again (default 2)
#   LIBPOOL_MPIRUN_ARGS     extra mpirun arguments (default --bind-to none)
#   LIBPOOL_SRUN_ARGS       extra srun arguments

libpool_log() { echo "libpool: $*" >&2; }

# The source tree (or installed share folder) that holds slurm/ and configs/. Set by the
# .sbatch preamble as LIBPOOL_SLURM_DIR.
LIBPOOL_HOME=$(cd "$LIBPOOL_SLURM_DIR/.." && pwd)

libpool_find_tool() {
  local name=$1 override=$2 p
  if [ -n "$override" ]; then
    [ -x "$override" ] || { libpool_log "error: $override is not an executable"; return 1; }
    echo "$override"
    return 0
  fi
  if p=$(command -v "$name" 2>/dev/null); then
    echo "$p"
    return 0
  fi
  for p in "$LIBPOOL_HOME/build/apps/$name/$name" "$LIBPOOL_HOME/bin/$name" \
    "$LIBPOOL_HOME/../../bin/$name"; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  libpool_log "error: no $name found (set POOLRUN/POOLREPORT, put it on PATH, or build the source tree in $LIBPOOL_HOME/build)"
  return 1
}

libpool_launcher() {
  local choice=${LIBPOOL_LAUNCHER:-auto}
  case "$choice" in
    srun | mpirun) echo "$choice" ;;
    auto)
      # srun gives every rank Slurm's whole KillWait after a TERM and needs no extra daemons;
      # it works with Open MPI only through PMIx.
      if srun --mpi=list 2>&1 | grep -qi pmix; then echo srun; else echo mpirun; fi
      ;;
    *)
      libpool_log "error: LIBPOOL_LAUNCHER must be srun, mpirun or auto, not '$choice'"
      return 1
      ;;
  esac
}

# Where the run's file lies now: the final name, or the ledger of a run that did not end.
libpool_existing() {
  if [ -e "$1" ]; then echo "$1"; elif [ -e "$1.partial" ]; then echo "$1.partial"; fi
}

# One field of poolreport's JSON (string or number), empty when absent.
libpool_report_field() {
  local file=$1 key=$2
  # The top-level fields come first in poolreport's object; nested ones repeat some names.
  "$POOLREPORT" --json "$file" 2>/dev/null | grep -o -E "\"$key\":(\"[^\"]*\"|[-0-9.e+]+)" |
    head -n1 | cut -d: -f2- | tr -d '"'
}

libpool_chunks_done() {
  local f
  f=$(libpool_existing "$1")
  [ -n "$f" ] || { echo 0; return; }
  local n
  n=$(libpool_report_field "$f" chunks_done)
  echo "${n:-0}"
}

# Whether PID runs on this node and is the process that started at START (clock ticks since
# boot, /proc/PID/stat field 22, as poolrun's lock records it; empty: not compared).
libpool_pid_runs() {
  local pid=$1 start=$2 stat
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 0 ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  # Fields after the command name (which may hold spaces): state is field 3, start time 22.
  read -r -a stat <<<"${stat##*) }"
  [ "${stat[0]}" != Z ] || return 1
  [ -z "$start" ] || [ "${stat[19]}" = "$start" ]
}

# The output's lock ("host pid start slurm_job=ID slurm_cluster=NAME", batch/src/common/lock.cpp)
# outlives a rank 0 that was killed or crashed. This removes it only when it names this job (and
# cluster), whose launches run one at a time from this script and never while this is called
# (before a launch, or after the launcher has exited: every rank of it is gone), and, when it
# names this node, its pid no longer runs. Any other lock (another job's, a run outside Slurm's)
# is poolrun's to judge: it refuses a live one and takes over one whose holder is gone (same
# host: the pid; another host: not refreshed for 60 s).
libpool_clear_own_lock() {
  local lock=$1.lock host="" pid="" start="" job="" cluster="" field
  [ -n "${SLURM_JOB_ID:-}" ] && [ -f "$lock" ] && [ ! -L "$lock" ] || return 0
  local fields=()
  read -r -a fields <"$lock" 2>/dev/null
  host=${fields[0]:-}
  pid=${fields[1]:-}
  for field in "${fields[@]:2}"; do
    case "$field" in
      slurm_job=*) job=${field#slurm_job=} ;;
      slurm_cluster=*) cluster=${field#slurm_cluster=} ;;
      *=*) ;;
      *) [ -z "$start" ] && start=$field ;;
    esac
  done
  [ "$job" = "$SLURM_JOB_ID" ] && [ "$cluster" = "${SLURM_CLUSTER_NAME:-}" ] || return 0
  if [ "$host" = "$(hostname)" ] && libpool_pid_runs "$pid" "$start"; then
    libpool_log "$lock: its run (pid $pid on $host) still runs; left in place"
    return 0
  fi
  rm -f "$lock" && libpool_log "removed $lock, left by a launch of this job that died (pid $pid on $host)"
}

# Every SBATCH script ends here: libpool_job WORKLOAD [options...]. WORKLOAD is one of poolrun's
# workloads, or the path of a program written on the workload API (libpool/batch.hpp): it runs
# that program instead of poolrun, with the same launch, signals, exit code and requeue.
libpool_job() {
  local workload=$1
  shift
  set +e
  if [ -z "$workload" ]; then
    libpool_log "error: name a workload (poolrun --list) or a program: sbatch slurm/poolrun.sbatch WORKLOAD [options]"
    exit 2
  fi
  local program=""
  if [[ "$workload" == */* ]]; then
    # Relative to the submit directory, where the job starts.
    program=$workload
    [[ "$program" == /* ]] || program=${SLURM_SUBMIT_DIR:-$PWD}/$program
    [ -x "$program" ] || { libpool_log "error: $workload is not an executable program"; exit 2; }
    workload=$(basename "$program")
    POOLRUN=$program
  else
    POOLRUN=$(libpool_find_tool poolrun "${POOLRUN:-}") || exit 2
  fi
  POOLREPORT=$(libpool_find_tool poolreport "${POOLREPORT:-}") || exit 2
  local launcher
  launcher=$(libpool_launcher) || exit 2

  local args=("$@") output="" resume=0 a i
  for ((i = 0; i < ${#args[@]}; i++)); do
    a=${args[i]}
    case "$a" in
      -o | --output) output=${args[i + 1]:-} ;;
      --output=*) output=${a#*=} ;;
      --resume | --force) resume=2 ;;
    esac
  done
  # A program of one workload takes its options directly; poolrun takes the workload first.
  local config pre=()
  if [ -n "$program" ]; then
    config=${LIBPOOL_CONFIG:-}
  else
    config=${LIBPOOL_CONFIG:-$LIBPOOL_HOME/configs/$workload.toml}
    pre=("$workload")
  fi
  [ -n "$config" ] && [ -f "$config" ] && pre+=(--config "$config")
  if [ -z "$output" ]; then
    local id=${SLURM_JOB_ID:-$$}
    [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && id=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
    # The generic script's jobs are named after what they run.
    local name=${SLURM_JOB_NAME:-$workload}
    [ "$name" = poolrun ] && name=$workload
    output=${LIBPOOL_OUTPUT:-${SLURM_SUBMIT_DIR:-$PWD}/$name-$id.h5}
    pre+=(-o "$output")
  fi
  # FILE.h5:/DATASET (datagen) names the dataset too; the file is what is looked at.
  output=${output%%:/*}
  local ntasks=${SLURM_NTASKS:-1}
  export POOLRUN_EXPECT_RANKS=$ntasks
  local cmd
  if [ "$launcher" = srun ]; then
    # shellcheck disable=SC2206
    cmd=(srun --mpi=pmix --kill-on-bad-exit=1 ${LIBPOOL_SRUN_ARGS:-})
  else
    if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    # The ranks need time to flush and drain after Slurm's TERM; mpirun kills them after 2 s
    # unless told otherwise.
    export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-20}
    # shellcheck disable=SC2206
    cmd=(mpirun -n "$ntasks" ${LIBPOOL_MPIRUN_ARGS:---bind-to none})
    [ "${SLURM_OVERCOMMIT:-}" = 1 ] && cmd+=(--oversubscribe)
  fi
  local retries=${LIBPOOL_LAUNCH_RETRIES:-2}
  if ! [[ "$retries" =~ ^[0-9]+$ ]]; then
    libpool_log "error: LIBPOOL_LAUNCH_RETRIES must be a number of retries (0, 1, 2, ...), not '$retries'"
    exit 2
  fi

  # bash runs traps only between commands: the launcher runs in the background and the script
  # waits in a loop. Slurm's warning (USR1, from --signal=B:USR1@T) reaches only this shell:
  # pass it on to every rank. A TERM (time limit, scancel, requeue) reaches every process
  # already; never forward it to mpirun, whose second TERM kills the ranks at once.
  LIBPOOL_WARNED=0
  LIBPOOL_TERMINATED=0
  LIBPOOL_PID=""
  trap 'LIBPOOL_WARNED=1; libpool_log "time limit near: stopping the run (it drains, then writes a partial file)"; [ -n "$LIBPOOL_PID" ] && kill -USR1 "$LIBPOOL_PID" 2>/dev/null' USR1
  trap 'LIBPOOL_TERMINATED=1' TERM INT

  # A launch that died before computing anything (Open MPI's start-up can crash under load, see
  # slurm/README.md) is launched again, at most LIBPOOL_LAUNCH_RETRIES times.
  local try=1 tries=$((retries + 1)) rc file status code done_before done_after run_cmd
  local attempt_before
  attempt_before=$(libpool_chunks_done "$output")
  while :; do
    # A lock left by a launch of this job that is no longer running (an earlier try, or the
    # attempt before a requeue) would refuse this launch.
    libpool_clear_own_lock "$output"
    run_cmd=("${cmd[@]}" "$POOLRUN" "${pre[@]}")
    # A requeued job, or one given the output of a job that did not finish, continues it.
    if [ "$resume" -eq 0 ] && [ -n "$(libpool_existing "$output")" ]; then run_cmd+=(--resume); fi
    run_cmd+=("${args[@]}")
    done_before=$(libpool_chunks_done "$output")
    libpool_log "job ${SLURM_JOB_ID:-?} attempt $((${SLURM_RESTART_COUNT:-0} + 1))$([ "$try" -gt 1 ] && echo " launch $try of $tries") on ${SLURM_JOB_NODELIST:-$(hostname)}: ${run_cmd[*]}"
    "${run_cmd[@]}" &
    LIBPOOL_PID=$!
    while :; do
      wait "$LIBPOOL_PID"
      rc=$?
      kill -0 "$LIBPOOL_PID" 2>/dev/null || break
    done
    LIBPOOL_PID=""
    # The launcher has exited: a lock its rank 0 left (killed, crashed) is removed now, so
    # that a requeue or a --resume by hand is not refused.
    libpool_clear_own_lock "$output"

    # The file's status is the truth: launchers rewrite the ranks' exit codes (srun with
    # KillOnBadExit turns a 3 into 143; mpirun returns 1 for a TERM it received).
    file=$(libpool_existing "$output")
    status=""
    [ -n "$file" ] && status=$(libpool_report_field "$file" status)
    done_after=$(libpool_chunks_done "$output")
    # Retried: the launcher failed (not a usage error: exit 2 is an answer), nothing asked the
    # run to stop, no chunk was completed, and the run never wrote its end (no file, or one
    # still "running": a rank died before the run could say how it ended).
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || [ "$LIBPOOL_WARNED" -eq 1 ] ||
      [ "$LIBPOOL_TERMINATED" -eq 1 ] || [ "$done_after" -gt "$done_before" ] ||
      { [ -n "$file" ] && [ -n "$status" ] && [ "$status" != running ]; }; then
      break
    fi
    local what="no output written"
    [ -n "$file" ] && what="$file: status ${status:-unreadable}, no chunk done"
    if [ "$try" -ge "$tries" ]; then
      libpool_log "giving up: launch $try of $tries failed before computing anything too ($what, launcher exit $rc); LIBPOOL_LAUNCH_RETRIES=$retries"
      exit 1
    fi
    local pause=$((2 * try))
    libpool_log "launch $try of $tries failed before computing anything ($what, launcher exit $rc); launching again in $pause s"
    sleep "$pause" &
    wait $! 2>/dev/null || kill $! 2>/dev/null
    if [ "$LIBPOOL_TERMINATED" -eq 1 ] || [ "$LIBPOOL_WARNED" -eq 1 ]; then
      libpool_log "not launching again: the job is ending"
      break
    fi
    try=$((try + 1))
  done
  trap - USR1 TERM INT

  if [ -z "$file" ]; then
    libpool_log "no output written (launcher exit $rc)"
    [ "$rc" -eq 2 ] && exit 2
    exit 1
  fi
  case "$status" in
    complete) code=0 ;;
    partial) code=3 ;;
    failed) code=1 ;;
    *) code=1 ;; # running: a rank or node died before the run could write its end
  esac
  libpool_log "$file: status ${status:-unreadable}, $done_after chunks done ($((done_after - attempt_before)) in this attempt), launcher exit $rc, job exit $code"

  if [ "$code" -eq 3 ] && [ "$LIBPOOL_WARNED" -eq 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    local restarts=${SLURM_RESTART_COUNT:-0} cap=${LIBPOOL_MAX_REQUEUES:-5}
    if [ "$done_after" -le "$attempt_before" ]; then
      libpool_log "not requeued: this attempt made no progress"
    elif [ "$restarts" -ge "$cap" ]; then
      libpool_log "not requeued: already restarted $restarts times (LIBPOOL_MAX_REQUEUES=$cap)"
    elif ! scontrol show job -o "$SLURM_JOB_ID" 2>/dev/null | grep -q ' Requeue=1'; then
      libpool_log "not requeued: the job is not requeueable (submit with --requeue)"
    else
      libpool_log "requeueing job $SLURM_JOB_ID (restart $((restarts + 1)) of at most $cap); it resumes $output"
      # Requeueing signals every process of the job, this shell included: do it last.
      trap 'exit 3' TERM
      scontrol requeue "$SLURM_JOB_ID" || libpool_log "scontrol requeue failed"
    fi
  fi
  exit "$code"
}
