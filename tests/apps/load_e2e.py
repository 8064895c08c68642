"""Load test of poolrun on an oversubscribed machine: the real binary under mpirun, the real
.h5 file read with h5py, per-rank CPU time read from /proc.

Usage: load_e2e.py POOLRUN MPIEXEC RANKS CHUNKS [IDLE_SAMPLES]

1. `pi --samples CHUNKS --chunksize 1` at RANKS ranks (--oversubscribe): the run completes, its
   ledger holds every chunk [i, i+1) exactly once, all done, and the count of points inside
   equals an ordinary run's (the same bits whatever the chunking). Prints the wall time and the
   CPU share of each worker rank.
2. Idle ranks: `pi` with one long chunk (IDLE_SAMPLES samples, default 4e10, ~20 s on an idle
   core) at RANKS ranks; while one rank computes it, every other rank's CPU use over a 2 s window
   stays under 5% of a core. Then the run is stopped (SIGTERM through mpirun).
"""
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

from e2e_helpers import attr, rank_pids

POOLRUN, MPIEXEC, RANKS, CHUNKS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
IDLE_SAMPLES = sys.argv[5] if len(sys.argv) > 5 else "4e10"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def start(args, d, ranks):
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] + args
    return subprocess.Popen(cmd, cwd=d, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_ranks(proc, ranks, timeout=120):
    t0 = time.time()
    while True:
        pids = rank_pids(proc.pid, POOLRUN)
        if len(pids) == ranks:
            return pids
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert time.time() - t0 < timeout, f"only {len(pids)} of {ranks} ranks started"
        time.sleep(0.05)


def many_chunks(d):
    ref = subprocess.run([MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, "pi", "--samples",
                          str(CHUNKS), "--seed", "3", "-o", "ref.h5", "-q"], cwd=d, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    t0 = time.time()
    proc = start(["pi", "--samples", str(CHUNKS), "--seed", "3", "--chunksize", "1", "-o",
                  "load.h5", "-q"], d, RANKS)
    pids = wait_for_ranks(proc, RANKS)
    last = {}
    while proc.poll() is None:
        for rank, pid in pids.items():
            c = cpu_seconds(pid)
            if c is not None:
                last[rank] = c
        time.sleep(0.2)
    out, err = proc.communicate()
    wall = time.time() - t0
    assert proc.returncode == 0, (proc.returncode, out, err)
    with h5py.File(os.path.join(d, "load.h5")) as f, h5py.File(os.path.join(d, "ref.h5")) as r:
        assert attr(f, "status") == "complete"
        assert int(f.attrs["ranks"]) == RANKS
        begin = f["chunks/begin"][:]
        end = f["chunks/end"][:]
        status = f["chunks/status"][:]
        assert len(begin) == CHUNKS, len(begin)
        assert np.array_equal(np.sort(begin), np.arange(CHUNKS, dtype=np.uint64)), "not once each"
        assert np.array_equal(end, begin + 1)
        assert np.all(status == b"done")
        assert int(f["chunks/partial"][:].sum()) == int(f["result/inside"][()])
        assert int(f["result/inside"][()]) == int(r["result/inside"][()])
        in_run = float(f.attrs["wall_seconds"])
        ranks_seen = len(set(f["chunks/rank"][:].tolist()))
    workers = sorted(100 * last[r] / wall for r in last if r != 0)
    print(f"{CHUNKS} chunks of 1 at {RANKS} ranks on {os.cpu_count()} cores: {wall:.1f} s whole "
          f"process, {in_run:.1f} s in-run, {CHUNKS / in_run:.0f} chunks/s, {ranks_seen} ranks "
          f"computed; rank 0 used {100 * last.get(0, 0) / wall:.1f}% of a core, workers "
          f"min/median/max {workers[0]:.1f}/{workers[len(workers) // 2]:.1f}/{workers[-1]:.1f}%")


def idle_ranks(d):
    proc = start(["pi", "--samples", IDLE_SAMPLES, "--chunksize", IDLE_SAMPLES, "-o", "idle.h5",
                  "-q"], d, RANKS)
    pids = wait_for_ranks(proc, RANKS)
    # The pool has started once the output exists; then let start-up settle.
    t0 = time.time()
    while not os.path.exists(os.path.join(d, "idle.h5.partial")):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 120, "the pool did not start"
        time.sleep(0.05)
    time.sleep(1.0)
    before = {r: cpu_seconds(p) for r, p in pids.items()}
    w0 = time.time()
    time.sleep(2.0)
    after = {r: cpu_seconds(p) for r, p in pids.items()}
    window = time.time() - w0
    running = proc.poll() is None
    proc.terminate()  # mpirun forwards it: the ranks flush and leave (exit 3)
    proc.communicate(timeout=120)
    assert running, "the long chunk ended before the window did: raise IDLE_SAMPLES"
    share = {r: 100 * (after[r] - before[r]) / window for r in pids
             if before[r] is not None and after[r] is not None}
    assert len(share) == RANKS, share
    busy = max(share, key=share.get)
    idle = sorted((s, r) for r, s in share.items() if r != busy)
    print(f"{RANKS} ranks waiting on one chunk: rank {busy} computes at {share[busy]:.0f}%, "
          f"the others use min/median/max {idle[0][0]:.2f}/{idle[len(idle) // 2][0]:.2f}/"
          f"{idle[-1][0]:.2f}% of a core (rank 0: {share[0]:.2f}%)")
    assert idle[-1][0] < 5.0, f"rank {idle[-1][1]} used {idle[-1][0]:.1f}% of a core while idle"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="poolrun-load-") as tmp:
        many_chunks(tmp)
        idle_ranks(tmp)
    print("load: ok")
