"""A user's own workload (examples/collatz) built outside the tree against an installed libpool,
shown to get the run machinery for free: exact bits at any rank count, kill -9 of a worker or of
rank 0 then --resume at another rank count, SIGUSR1 drain, one writer per output, poolreport.

usage: example_e2e.py BUILD_DIR SOURCE_DIR MPIEXEC WORK_DIR CASE
CASE "build" installs BUILD_DIR into WORK_DIR/prefix and builds the example (the fixture every
other case needs)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

from e2e_helpers import attr, open_left, rank_pids, wait_for_rows

BUILD, SOURCE, MPIEXEC, WORK, CASE = sys.argv[1:6]
PREFIX = os.path.join(WORK, "prefix")
BINARY = os.path.join(WORK, "collatz-build", "collatz")
POOLREPORT = os.path.join(PREFIX, "bin", "poolreport")
ENV = dict(os.environ)
if os.getuid() == 0:  # Open MPI refuses root unless told
    ENV.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
# Long enough to be interrupted mid-run (a few seconds on 2 cores), in chunks of 50,000.
BIG = ["--range", "1:20_000_000", "--chunksize", "50_000", "--flush-interval", "0.1", "-q"]


def run(args, ranks=2, cwd=None, timeout=120):
    # mpirun -q: no banner of its own when a rank exits non-zero, so stderr is the program's.
    return subprocess.run([MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", BINARY] + args,
                          capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)


def ok(args, ranks=2, cwd=None):
    p = run(args, ranks, cwd)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p


def start(args, d, ranks=3):
    return subprocess.Popen([MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", BINARY] + args,
                            cwd=d, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def result(path):
    with h5py.File(path) as f:
        assert attr(f, "status") == "complete", attr(f, "status")
        r = f["result"]
        return list(r["counts"][:]), int(r["max_steps"][()]), int(r["argmax"][()])


def steps(n):
    s = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        s += 1
    return s


def case_build(d):
    shutil.rmtree(PREFIX, ignore_errors=True)
    subprocess.run(["cmake", "--install", BUILD, "--prefix", PREFIX], check=True,
                   capture_output=True)
    # Only the installed copy: a CXX-only project with find_package(libpool).
    b = os.path.join(WORK, "collatz-build")
    shutil.rmtree(b, ignore_errors=True)
    p = subprocess.run(["cmake", "-S", os.path.join(SOURCE, "examples", "collatz"), "-B", b,
                        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={PREFIX}"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run(["cmake", "--build", b], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert os.path.exists(BINARY)


def case_bits(d):
    # Python's answer on a small range, then the same bits at 1-4 ranks and any chunking.
    lo, hi = 1, 60_000
    want = {}
    for n in range(lo, hi):
        s = steps(n)
        want[s] = want.get(s, 0) + 1
    counts = [want.get(s, 0) for s in range(max(want) + 1)]
    argmax = next(n for n in range(lo, hi) if steps(n) == max(want))
    for i, (ranks, cs, sched) in enumerate([(1, "auto", "dynamic"), (2, "777", "guided"),
                                            (3, "10000", "dynamic"), (4, "auto", "guided")]):
        out = f"b{i}.h5"
        p = ok(["--range", f"{lo}:{hi}", "--chunksize", cs, "--schedule", sched, "-o", out],
               ranks, d)
        assert f"is {argmax}, {max(want)} steps" in p.stdout, p.stdout
        assert result(os.path.join(d, out)) == (counts, max(want), argmax), out
        with h5py.File(os.path.join(d, out)) as f:
            # The ledger keeps every chunk's partial (sizes differ: a histogram each).
            sizes = f["chunks/partial_bytes"][:]
            assert len(sizes) == len(f["chunks/begin"]) and sizes.min() > 0
            assert f["partials"].shape[0] >= int(sizes.sum())
            assert attr(f, "workload") == "collatz"


def crash_and_resume(d, victim):
    ok(BIG + ["-o", "clean.h5"], 2, d)
    proc = start(BIG + ["-o", "k.h5"], d, ranks=3)
    wait_for_rows(os.path.join(d, "k.h5.partial"), 8, proc)
    pids = rank_pids(proc.pid, BINARY)
    assert len(pids) == 3, pids
    os.kill(pids[1 if victim == "worker" else 0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    # Whoever notices first (the master: a lost rank, or mpirun: SIGTERM to the others) leaves a
    # resumable file that claims no result; after kill -9 of rank 0, the file of its last flush.
    allowed = ("running", "partial") + (("failed",) if victim == "worker" else ())
    left = "k.h5" if os.path.exists(os.path.join(d, "k.h5")) else "k.h5.partial"
    with open_left(os.path.join(d, left)) as f:
        kept = len(f["chunks/begin"])
        assert attr(f, "status") in allowed, (attr(f, "status"), err)
        assert "counts" not in f["result"]
    # Another rank count, the same bits.
    ok(BIG + ["-o", "k.h5", "--resume"], 2 if victim == "worker" else 1, d)
    assert result(os.path.join(d, "k.h5")) == result(os.path.join(d, "clean.h5"))
    with h5py.File(os.path.join(d, "k.h5")) as f:
        assert int(f["resumes/chunks_kept"][0]) == kept >= 8
        assert f["chunks/attempt"][:].max() == 2


def case_kill_worker(d):
    crash_and_resume(d, "worker")


def case_kill_master(d):
    crash_and_resume(d, "master")


def case_sigusr1(d):
    ok(BIG + ["-o", "clean.h5"], 2, d)
    proc = start(BIG + ["-o", "s.h5"], d, ranks=2)
    wait_for_rows(os.path.join(d, "s.h5.partial"), 4, proc)
    proc.send_signal(signal.SIGUSR1)  # mpirun forwards it: Slurm's warning before the limit
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (proc.returncode, err)
    assert "interrupted" in err and "--resume" in err, err
    with h5py.File(os.path.join(d, "s.h5")) as f:
        assert attr(f, "status") == "partial"
        assert "counts" not in f["result"]
    ok(BIG + ["-o", "s.h5", "--resume"], 3, d)
    assert result(os.path.join(d, "s.h5")) == result(os.path.join(d, "clean.h5"))


def case_one_writer(d):
    proc = start(BIG + ["-o", "w.h5"], d, ranks=2)
    wait_for_rows(os.path.join(d, "w.h5.partial"), 1, proc)
    second = run(BIG + ["-o", "w.h5", "--force"], 2, d)
    assert second.returncode == 2, (second.returncode, second.stderr)
    assert "being written by another run" in second.stderr, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    result(os.path.join(d, "w.h5"))


def case_usage(d):
    for bad, text in [(["--range", "0:10"], "n starts at 1"), (["--range", "5:x"], "--range"),
                      ([], "--range is required"), (["--range", "1:9", "--bogus"], "bogus")]:
        p = run(bad + ["-o", "u.h5"], 2, d)
        assert p.returncode == 2 and text in p.stderr, (bad, p.returncode, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not os.path.exists(os.path.join(d, "u.h5"))
    # --help names the workload's options and the common ones; --dump-config its TOML table.
    p = run(["--help"], 1, d)
    assert p.returncode == 0 and "--range" in p.stdout and "--resume" in p.stdout, p.stdout
    p = run(["--range", "1:100", "--dump-config"], 1, d)
    assert p.returncode == 0 and 'collatz.range="1:100"' in p.stdout, p.stdout
    with open(os.path.join(d, "c.toml"), "w") as f:
        f.write(p.stdout)
    p = ok(["--config", "c.toml", "-o", "c.h5"], 2, d)
    assert "is 97, 118 steps" in p.stdout, p.stdout
    # A resume with another range is refused, naming it.
    ok(["--range", "1:1000", "-o", "r.h5", "-q"], 2, d)
    os.rename(os.path.join(d, "r.h5"), os.path.join(d, "r.h5.partial"))
    with h5py.File(os.path.join(d, "r.h5.partial"), "r+") as f:
        f.attrs["status"] = "partial"
    p = run(["--range", "1:2000", "-o", "r.h5", "--resume"], 2, d)
    assert p.returncode == 2 and "range differs" in p.stderr, p.stderr
    # A file of an older ledger layout (results version 1: partials only in 128 bits) is refused
    # with one line naming both versions, and left as it was.
    with h5py.File(os.path.join(d, "r.h5.partial"), "r+") as f:
        f.attrs["identity"] = attr(f, "identity").replace("results_version=2", "results_version=1")
    p = run(["--range", "1:1000", "-o", "r.h5", "--resume"], 2, d)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "results_version differs" in p.stderr and "recorded 1, now 2" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    with h5py.File(os.path.join(d, "r.h5.partial")) as f:
        assert attr(f, "status") == "partial"
    # A task that raises on a worker (a trajectory past 2^64): exit 1, one line, the error and
    # what completed kept in the file.
    big = 2 ** 63 + 1
    p = run(["--range", f"{big - 4000}:{big + 2}", "--chunksize", "1000", "-o", "e.h5"], 2, d)
    assert p.returncode == 1 and "overflow_error" in p.stderr, (p.returncode, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    with h5py.File(os.path.join(d, "e.h5")) as f:
        assert attr(f, "status") == "failed"
        assert "leaves 64 bits" in attr(f["error"], "message")
        assert b"failed" in list(f["chunks/status"][:])


def case_poolreport(d):
    ok(["--range", "1:200000", "--chunksize", "20000", "-o", "p.h5", "-q"], 2, d)
    p = subprocess.run([POOLREPORT, "p.h5"], capture_output=True, text=True, cwd=d)
    assert p.returncode == 0 and "collatz" in p.stdout and "complete" in p.stdout, p.stdout
    p = subprocess.run([POOLREPORT, "p.h5", "--json"], capture_output=True, text=True, cwd=d)
    j = json.loads(p.stdout)
    assert j["status"] == "complete" and j["workload"] == "collatz", j
    p = subprocess.run([POOLREPORT, "p.h5", "--timeline", "t.svg"], capture_output=True,
                       text=True, cwd=d)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(d, "t.svg")) as f:
        svg = f.read()
    assert svg.startswith("<") and svg.count("<rect") >= 10, svg[:200]


if __name__ == "__main__":
    if CASE == "build":
        os.makedirs(WORK, exist_ok=True)
        case_build(WORK)
    else:
        d = os.path.join(WORK, CASE)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        globals()["case_" + CASE](d)
    print("ok")
