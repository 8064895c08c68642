"""End-to-end tests of poolrun: the real binary under mpirun, the real .h5 files read with h5py.

Usage: poolrun_e2e.py POOLRUN MPIEXEC CONFIGS_DIR CASE
Known answers come from the tutorial's printed output, the prime-counting table, and Python's
exact integers; nothing is compared only with another poolrun run unless the point is
reproducibility (pi across ranks, chunk sizes and schedules).
"""
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py

from e2e_helpers import attr, builtin_workloads, open_left, wait_for_rows
from e2e_helpers import rank_pids as _rank_pids

POOLRUN, MPIEXEC, CONFIGS = sys.argv[1], sys.argv[2], sys.argv[3]


def rank_pids(mpirun_pid):
    return _rank_pids(mpirun_pid, POOLRUN)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def poolrun(args, ranks=2, cwd=None, timeout=60):
    # mpirun -q: no banner of its own when a rank exits non-zero, so stderr is poolrun's alone.
    # ranks=0: a singleton run without mpirun.
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] if ranks else [POOLRUN]
    cmd += args
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)


def ok(args, ranks=2, cwd=None):
    p = poolrun(args, ranks, cwd)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p




def check_common_layout(f, workload, ranks):
    assert attr(f, "workload") == workload
    assert attr(f, "status") == "complete", attr(f, "status")
    assert int(f.attrs["ranks"]) == ranks
    assert float(f.attrs["wall_seconds"]) > 0
    for key in ("libpool_version", "created", "config", "command_line"):
        assert attr(f, key), key
    for col in ("begin", "end", "rank", "start_s", "end_s", "attempt", "status"):
        assert col in f["chunks"], col
    n = len(f["chunks/begin"])
    assert n > 0
    assert list(f["chunks/status"].asstr()[:]) == ["done"] * n
    assert list(f["workers/rank"][:]) == list(range(ranks))
    assert int(sum(f["workers/chunks"][:])) == n
    assert all(0 <= r < ranks for r in f["chunks/rank"][:])
    assert all(e >= s for s, e in zip(f["chunks/start_s"][:], f["chunks/end_s"][:]))


def case_seed(d):
    p = ok(["seed", "-o", "seed.h5"], cwd=d)
    with h5py.File(os.path.join(d, "seed.h5")) as f:
        check_common_layout(f, "seed", 2)
        r = f["result"]
        # The tutorial's printed outputs (seed_workloads.py).
        assert list(r["sum_squares/sums"].asstr()[:]) == [
            "333333283333335000000", "2666666466666670000000", "8999999550000005000000",
            "21333332533333340000000"]
        assert list(r["sum_squares/n"][:]) == [10_000_000, 20_000_000, 30_000_000, 40_000_000]
        assert int(r["count_primes/count"][()]) == 78498
        assert sum(r["count_primes/counts"][:]) == 78498
        assert r["sum_cubes/total"].asstr()[()] == "4997500416641667000"
        nums = [104729, 1000003, 999983, 7919 * 7919, 1299827, 15485863, 49979687, 67867979,
                104395303, 982451653]
        assert list(r["smallest_factor/number"][:]) == nums
        assert list(r["smallest_factor/smallest_factor"][:]) == [0, 0, 0, 7919] + [0] * 6
        # One /chunks row a program's chunk, named by its pass, in completion order.
        passes = [p.decode() for p in f["chunks/pass"][:]]
        assert sorted(set(passes)) == ["count_primes", "monte_carlo", "smallest_factor",
                                       "sum_cubes", "sum_squares"], set(passes)
        assert passes.count("smallest_factor") == 10 and passes.count("count_primes") == 4
        mc = r["monte_carlo"]
        assert int(mc["samples"][()]) == 8_000_000
        assert int(mc.attrs["seed"]) == 0
        assert float(mc["pi"][()]) == 4 * int(mc["inside"][()]) / 8_000_000
        assert abs(float(mc["pi"][()]) - 3.14159265) < 6 * float(mc["stderr"][()])
    assert "4997500416641667000" in p.stdout and "78498" in p.stdout


def case_powersum(d):
    p = ok(["powersum", "--exponent", "2", "--n", "40_000_000", "-o", "a.h5"], cwd=d)
    assert "21333332533333340000000" in p.stdout
    with h5py.File(os.path.join(d, "a.h5")) as f:
        check_common_layout(f, "powersum", 2)
        assert f["result/total"].asstr()[()] == "21333332533333340000000"  # past 2^64
        assert list(f["result/n"][:]) == [40_000_000]
        assert f["result/n"].dtype == "uint64"
    # Several n, small chunks, guided, 3 ranks: every sum exact (Python ints are the oracle).
    ns = [0, 1, 2, 1000, 123_457, 2_000_001]
    ok(["powersum", "--exponent", "5", "--n", ",".join(map(str, ns)), "--chunksize", "1e4",
        "--schedule", "guided", "-o", "b.h5"], ranks=3, cwd=d)
    with h5py.File(os.path.join(d, "b.h5")) as f:
        want = [sum(i ** 5 for i in range(n)) for n in ns]
        assert [int(s) for s in f["result/sums"].asstr()[:]] == want
        assert int(f["result/total"].asstr()[()]) == sum(want)
        assert sum(want) > 2 ** 64
    # --range A:B is every n in [A, B).
    ok(["powersum", "--exponent", "3", "--range", "0:200", "-o", "c.h5"], cwd=d)
    with h5py.File(os.path.join(d, "c.h5")) as f:
        assert list(f["result/n"][:]) == list(range(200))
        assert int(f["result/total"].asstr()[()]) == sum(sum(i ** 3 for i in range(n))
                                                        for n in range(200))


def case_pi_bits(d):
    runs = [(1, "auto", "dynamic"), (2, "auto", "dynamic"), (3, "1e6", "guided"),
            (4, "333_333", "dynamic"), (2, "2_000_000", "guided")]
    seen = set()
    for i, (ranks, cs, sched) in enumerate(runs):
        out = f"pi{i}.h5"
        ok(["pi", "--samples", "1e7", "--seed", "12345", "--chunksize", cs, "--schedule", sched,
            "-o", out], ranks=ranks, cwd=d)
        with h5py.File(os.path.join(d, out)) as f:
            check_common_layout(f, "pi", ranks)
            r = f["result"]
            inside = int(r["inside"][()])
            pi = float(r["pi"][()])
            assert int(r["samples"][()]) == 10_000_000
            assert int(r.attrs["seed"]) == 12345 and int(r["pi"].attrs["seed"]) == 12345
            assert pi == 4 * inside / 10_000_000
            assert abs(pi - 3.141592653589793) < 6 * float(r["stderr"][()])
            seen.add((inside, struct.pack("<d", pi)))
    assert len(seen) == 1, seen
    # Another seed gives another stream.
    ok(["pi", "--samples", "1e7", "--seed", "1", "-o", "other.h5"], cwd=d)
    with h5py.File(os.path.join(d, "other.h5")) as f:
        assert int(f["result/inside"][()]) != next(iter(seen))[0]


def case_primes(d):
    # pi(x) table: pi(1e6) = 78498, pi(1e7) = 664579, pi(1e8) = 5761455, pi(1e9) = 50847534.
    cases = [(["--to", "1e6"], 78498, 2), (["--to", "10_000_000", "--chunksize", "999_983"], 664579, 3),
             (["--from", "1e8", "--to", "1e9", "--schedule", "guided"], 50847534 - 5761455, 2),
             (["--from", "1e7", "--to", "1e8"], 5761455 - 664579, 1),
             (["--from", "2", "--to", "3"], 1, 2), (["--to", "2"], 0, 2), (["--from", "7", "--to", "7"], 0, 2)]
    for i, (args, want, ranks) in enumerate(cases):
        out = f"p{i}.h5"
        ok(["primes"] + args + ["-o", out], ranks=ranks, cwd=d)
        with h5py.File(os.path.join(d, out)) as f:
            assert attr(f, "status") == "complete"
            assert int(f["result/count"][()]) == want, (args, int(f["result/count"][()]), want)


def case_factor(d):
    nums = [104729, 7919 * 7919, 2 ** 61 - 1, 1_000_000_007 * 998_244_353, 91, 1, 0, 2 ** 64 - 1]
    want = [0, 7919, 0, 998_244_353, 7, 0, 0, 3]
    ok(["factor", "--numbers", ",".join(map(str, nums)), "-o", "f.h5"], cwd=d)
    with h5py.File(os.path.join(d, "f.h5")) as f:
        check_common_layout(f, "factor", 2)
        assert list(f["result/number"][:]) == nums
        assert list(f["result/smallest_factor"][:]) == want
    # The same numbers from an HDF5 dataset; bad datasets are refused before any work.
    import numpy as np
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["u"] = np.array(nums, dtype=np.uint64)
        f["neg"] = np.array([5, -3], dtype=np.int64)
        f["fl"] = np.array([1.5])
    ok(["factor", "--input", "in.h5:/u", "-o", "g.h5"], cwd=d)
    with h5py.File(os.path.join(d, "g.h5")) as f:
        assert list(f["result/smallest_factor"][:]) == want
    for spec in ("in.h5:/neg", "in.h5:/fl", "in.h5:/none", "none.h5:/u"):
        p = poolrun(["factor", "--input", spec, "-o", "bad.h5"], ranks=0, cwd=d)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, (spec, p.stderr)
        assert not os.path.exists(os.path.join(d, "bad.h5"))


def check_refused(d, bad, keep):
    """Every argument list exits 2 with one line on stderr and leaves the directory as it was."""
    before = {n: os.stat(os.path.join(d, n)).st_mtime_ns for n in keep}
    # mpirun needs ~1.5 s to wind down a job that exits non-zero: most cases run as singletons,
    # a few under mpirun at 2 ranks to check that every rank leaves together.
    for i, args in enumerate(bad):
        for ranks in ((0, 2) if i % 4 == 0 else (0,)):
            p = poolrun(args, ranks=ranks, cwd=d)
            assert p.returncode == 2, (args, p.returncode, p.stderr)
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("poolrun: error: "), (args, p.stderr)
            assert p.stdout == "", (args, p.stdout)
            assert sorted(os.listdir(d)) == sorted(keep), (args, os.listdir(d))
    assert before == {n: os.stat(os.path.join(d, n)).st_mtime_ns for n in keep}


def case_usage_errors(d):
    check_refused(d, [
        ["primes", "--from", "10", "--to", "5"], ["primes", "--to", "-5"],
        ["primes", "--to", "abc"], ["primes", "--to", "1.5"], ["pi", "--samples", "0"],
        ["pi", "--samples", "1e6", "--chunksize", "0"], ["pi", "--samples", "x"],
        ["powersum", "--exponent", "2", "--range", "9:3"], ["powersum", "--exponent", "2"],
        ["powersum", "--exponent", "2", "--n", "5", "--range", "1:3"],
        ["powersum", "--exponent", "128", "--n", "4"],  # known to pass 2^128
        ["primes", "--to", "100", "--bogus"], ["nosuchworkload"], [],
        ["primes", "--to", "100", "--schedule", "static"], ["factor", "--numbers", "12,x"],
        ["factor", "--numbers", "1,,2"], ["factor", "--numbers=3,"],
        ["powersum", "--exponent", "2", "--n", ",5"], ["factor"]], keep=[])


def case_usage_files(d):
    with open(os.path.join(d, "bad.toml"), "w") as c:
        c.write("[primes]\nto = 100\ntypo = 3\n")
    with open(os.path.join(d, "exists.h5"), "w") as c:
        c.write("precious")
    os.mkdir(os.path.join(d, "busy.h5.lock"))  # where busy.h5's lock goes: not a lock file
    pi = ["pi", "--samples", "1e6"]
    check_refused(d, [
        ["primes", "--config", "bad.toml"], ["primes", "--config", "none.toml"],
        ["primes", "--to", "100", "-o", "exists.h5"], ["seed", "-o", "exists.h5"],
        ["primes", "--to", "100", "-o", "no/dir/x.h5"], ["pi", "--samples", "0", "-o", "n.h5"],
        pi + ["-o", ""], pi + ["--output="], pi + ["-o", "x" * 245 + ".h5"],
        pi + ["-o", "busy.h5"], pi + ["-o", "x.h5.partial", "--force"],
        pi + ["-o", "x.h5.lock", "--force"],
        pi + ["--flush-interval", "nan"], pi + ["--progress-interval", "nan"],
        pi + ["--task-timeout", "nan"], pi + ["--task-timeout", "inf"]],
        keep=["bad.toml", "exists.h5", "busy.h5.lock"])
    assert open(os.path.join(d, "exists.h5")).read() == "precious"
    p = poolrun(pi + ["-o", "busy.h5"], ranks=0, cwd=d)
    assert "busy.h5.lock" in p.stderr and "not a regular file" in p.stderr, p.stderr
    p = poolrun(pi + ["-o", "x" * 245 + ".h5"], ranks=0, cwd=d)
    assert "the file name is 248 bytes long" in p.stderr, p.stderr
    # --force replaces it.
    ok(["primes", "--to", "100", "-o", "exists.h5", "--force"], cwd=d)
    with h5py.File(os.path.join(d, "exists.h5")) as f:
        assert int(f["result/count"][()]) == 25


def case_task_failure(d):
    # S_25(35) >= 2^128 but no cheap bound proves it: the chunk for n=35 overflows on a worker.
    assert sum(i ** 25 for i in range(35)) >= 2 ** 128
    p = poolrun(["powersum", "--exponent", "25", "--n", "10,35", "-o", "fail.h5"], cwd=d)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "overflow" in p.stderr
    with h5py.File(os.path.join(d, "fail.h5")) as f:
        assert attr(f, "status") == "failed"
        assert "2^128" in attr(f["error"], "message")
        status = list(f["chunks/status"].asstr()[:])
        assert "failed" in status and "done" in status, status  # the n=10 chunk is kept
    # Each sum fits, their total does not: the run fails when the master adds them.
    assert 2 * sum(i ** 25 for i in range(34)) + sum(i ** 25 for i in range(30)) >= 2 ** 128
    p = poolrun(["powersum", "--exponent", "25", "--n", "34,34,30", "-o", "total.h5"], cwd=d)
    assert p.returncode == 1, (p.returncode, p.stderr)
    with h5py.File(os.path.join(d, "total.h5")) as f:
        assert attr(f, "status") == "failed"
        assert list(f["chunks/status"].asstr()[:]) == ["done"] * 3


def case_interrupt(d):
    # SIGUSR1 (Slurm's warning) reaches every rank through mpirun: stop, drain, status partial.
    cmd = [MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, "pi", "--samples", "1e12",
           "--chunksize", "1e8", "-o", "int.h5", "-q"]
    proc = subprocess.Popen(cmd, cwd=d, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, (proc.returncode, err)
    with h5py.File(os.path.join(d, "int.h5")) as f:
        assert attr(f, "status") == "partial"
        assert len(f["chunks/begin"]) > 0


def case_progress(d):
    # Slowed tasks (100 ms each, 24 chunks, about 1.3 s of work on 2 ranks).
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="100")
    base = [MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, "pi", "--samples", "24e6",
            "--chunksize", "1e6", "--force"]

    def run(extra):
        # Bytes: text mode would turn the bar's carriage returns into newlines.
        p = subprocess.run(base + extra, capture_output=True, cwd=d, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stderr.decode()
    # A pipe (a log, Slurm): one status line per --progress-interval, no redraw.
    err = run(["-o", "a.h5", "--progress-interval", "0.2"])
    lines = [l for l in err.splitlines() if l.startswith("poolrun pi: ")]
    assert len(lines) >= 3 and "\r" not in err, err
    assert all("/24000000" in l for l in lines), lines
    # The default interval (5 s) prints none in a run this short.
    err = run(["-o", "b.h5"])
    assert "poolrun pi: " not in err, err
    # --progress always: the redrawn bar on stderr although it is a pipe (mpirun's to a terminal).
    err = run(["-o", "c.h5", "--progress", "always"])
    assert "\r[" in err and "\x1b[K" in err and "ETA" in err, repr(err)
    # never, and a bad interval (exit 2, one line).
    assert "poolrun pi" not in run(["-o", "e.h5", "--progress", "never",
                                    "--progress-interval", "0.1"])
    p = poolrun(["pi", "--progress-interval", "0", "-o", "f.h5"], cwd=d)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr


def case_configs(d):
    # The committed configs run as they are, and --dump-config round-trips.
    for wl in builtin_workloads(POOLRUN, ENV):
        cfg = os.path.join(CONFIGS, wl + ".toml")
        ok([wl, "--config", cfg, "-o", wl + ".h5", "-q"], cwd=d)
        dumped = ok([wl, "--config", cfg, "--dump-config"], cwd=d).stdout
        again = os.path.join(d, wl + ".dumped.toml")
        with open(again, "w") as c:
            c.write(dumped)
        assert ok([wl, "--config", again, "--dump-config"], cwd=d).stdout == dumped
    ok(["primes", "--config", os.path.join(CONFIGS, "primes.toml"), "--to", "1000", "-o", "x.h5"],
       cwd=d)
    with h5py.File(os.path.join(d, "x.h5")) as f:
        assert int(f["result/count"][()]) == 168  # the command line wins over the file


# ---- datagen, stats, thumbnails -------------------------------------------------------------

def philox4x32_10(ctr, key):
    """Random123's Philox4x32-10 in plain Python (the reference for datagen's stream)."""
    c, k = list(ctr), list(key)
    for rnd in range(10):
        if rnd:
            k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


def stats_of(d, name, args, ranks=2):
    ok(["stats", *args, "-o", name, "-q"], ranks=ranks, cwd=d)
    with h5py.File(os.path.join(d, name)) as f:
        check_common_layout(f, "stats", ranks)
        r = f["result"]
        out = {k: r[k][()] for k in r}
    return out


def check_against_numpy(res, x):
    import numpy as np
    x = np.asarray(x, dtype=np.float64).ravel()
    nan = np.isnan(x)
    v = x[~nan]
    assert int(res["count"]) == v.size and int(res["nan_count"]) == int(nan.sum())
    assert res["min"] == v.min() and res["max"] == v.max(), (res["min"], res["max"])
    scale = max(1.0, float(np.abs(v).max()))
    assert abs(res["sum"] - v.sum()) <= 1e-12 * scale * v.size, (res["sum"], v.sum())
    assert abs(res["mean"] - v.mean()) <= 1e-12 * scale, (res["mean"], v.mean())
    assert abs(res["variance"] - v.var()) <= 1e-10 * max(1.0, v.var()), (res["variance"], v.var())


def case_stats_known(d):
    import numpy as np
    n = 1_000_003
    rng = np.random.default_rng(5)
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f.create_dataset("ints", data=np.arange(n, dtype=np.int64), chunks=(10_000,))
        x = rng.normal(3.0, 2.0, size=(700, 1000))
        x[rng.integers(0, 700, 50), rng.integers(0, 1000, 50)] = np.nan
        f.create_dataset("mat", data=x, chunks=(16, 1000))
        f.create_dataset("img", data=rng.integers(0, 256, (30, 40, 50, 3), dtype=np.uint8),
                         chunks=(1, 40, 50, 3))
        f.create_dataset("f32", data=rng.uniform(-1, 1, 123_457).astype(np.float32))
        f.create_dataset("i8", data=rng.integers(-128, 128, 5000, dtype=np.int8), chunks=(100,))
        f.create_dataset("u64", data=rng.integers(0, 2 ** 40, 4000, dtype=np.uint64))
        f["scalar"] = 7.5
    # Closed forms: 0..n-1 (every partial sum is an exact integer in double).
    r = stats_of(d, "ints.h5", ["in.h5:/ints"])
    assert int(r["count"]) == n and int(r["nan_count"]) == 0
    assert r["sum"] == n * (n - 1) // 2 and r["mean"] == (n - 1) / 2
    assert r["min"] == 0 and r["max"] == n - 1
    assert abs(r["variance"] - (n * n - 1) / 12) <= 1e-12 * (n * n / 12)
    with h5py.File(os.path.join(d, "in.h5")) as f:
        for name in ("mat", "img", "f32", "i8", "u64", "scalar"):
            check_against_numpy(stats_of(d, name + ".h5", [f"in.h5:/{name}"], ranks=3), f[name][()])


def case_stats_histogram(d):
    import numpy as np
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, 300_000)
    x[::1000] = np.nan
    x[5] = 10.0  # outside --range -3:3
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f.create_dataset("x", data=x, chunks=(4096,))
        f.create_dataset("one", data=np.full(1000, 2.5))
        f.create_dataset("u8", data=rng.integers(0, 256, (20, 33, 17), dtype=np.uint8))
    v = x[~np.isnan(x)]
    # Without --range: [min, max] of the data, found in a first pass.
    r = stats_of(d, "h1.h5", ["in.h5:/x", "--bins", "37"])
    counts, edges = np.histogram(v, bins=37)
    assert list(r["histogram"]) == list(counts) and int(r["histogram"].sum()) == v.size
    assert np.array_equal(r["bin_edges"], edges), (r["bin_edges"], edges)
    check_against_numpy(r, x)
    # With --range: values outside are not counted; the moments still see them.
    r = stats_of(d, "h2.h5", ["in.h5:/x", "--bins", "12", "--range=-3:3"], ranks=3)
    counts, edges = np.histogram(v, bins=12, range=(-3, 3))
    assert list(r["histogram"]) == list(counts) and np.array_equal(r["bin_edges"], edges)
    assert r["max"] == 10.0
    # A single value: numpy's [v - 0.5, v + 0.5].
    r = stats_of(d, "h3.h5", ["in.h5:/one", "--bins", "4"])
    counts, edges = np.histogram(np.full(1000, 2.5), bins=4)
    assert list(r["histogram"]) == list(counts) and np.array_equal(r["bin_edges"], edges)
    with h5py.File(os.path.join(d, "in.h5")) as f:
        u8 = f["u8"][()]
    r = stats_of(d, "h4.h5", ["in.h5:/u8", "--bins", "256", "--range", "0:256"])
    assert list(r["histogram"]) == list(np.bincount(u8.ravel(), minlength=256))


def case_stats_bits(d):
    import numpy as np
    # 3e6 float64 = 24 MB: several reduction blocks, many work chunks.
    ok(["datagen", "--kind", "normal", "--shape", "3e6", "--seed", "11", "-o", "n.h5:/x", "-q"],
       cwd=d)
    seen = set()
    runs = [(1, "auto", "dynamic"), (2, "auto", "dynamic"), (3, "100_000", "guided"),
            (4, "1", "dynamic"), (2, "2e6", "guided")]
    for i, (ranks, cs, sched) in enumerate(runs):
        r = stats_of(d, f"s{i}.h5", ["n.h5:/x", "--chunksize", cs, "--schedule", sched],
                     ranks=ranks)
        seen.add(tuple(struct.pack("<d", float(r[k])) for k in
                       ("sum", "mean", "variance", "min", "max")) + (int(r["count"]),))
    assert len(seen) == 1, seen
    with h5py.File(os.path.join(d, "n.h5")) as f:
        x = f["x"][()]
    check_against_numpy(r, x)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1) < 0.01  # it is N(0, 1)


def case_stats_inputs(d):
    import numpy as np
    # The same values gzip-compressed (datagen --gzip) and not: the same bits, since the blocks
    # follow the same chunking; contiguous (h5py default) and gzip datasets written by h5py.
    common = ["datagen", "--kind", "uniform", "--shape", "1500x700", "--dtype", "float32",
              "--seed", "4", "--chunk", "50", "-q"]
    ok(common + ["-o", "plain.h5:/u"], cwd=d)
    ok(common + ["--gzip", "4", "-o", "gz.h5:/g/u"], cwd=d)
    with h5py.File(os.path.join(d, "gz.h5")) as f:
        assert f["g/u"].compression == "gzip" and f["g/u"].shuffle and f["g/u"].chunks == (50, 700)
        u = f["g/u"][()]
    a = stats_of(d, "a.h5", ["plain.h5:/u"])
    b = stats_of(d, "b.h5", ["gz.h5:/g/u"], ranks=3)
    assert all(struct.pack("<d", float(a[k])) == struct.pack("<d", float(b[k])) for k in a)
    check_against_numpy(b, u)
    rng = np.random.default_rng(1)
    y = rng.exponential(5.0, 2_500_000)
    with h5py.File(os.path.join(d, "h.h5"), "w") as f:
        f.create_dataset("contig", data=y)
        f.create_dataset("gz", data=y.reshape(2500, 1000), chunks=(7, 1000), compression="gzip")
    check_against_numpy(stats_of(d, "c.h5", ["h.h5:/contig", "--chunksize", "300000"]), y)
    check_against_numpy(stats_of(d, "g.h5", ["h.h5:/gz"], ranks=3), y)


def check_columns_against_numpy(res, x, picked):
    """Per-column statistics of stats --axis 0 against numpy's nan-aware ones (pandas' describe
    without the quantiles)."""
    import numpy as np
    x = np.asarray(x, dtype=np.float64)
    assert list(res["columns"]) == list(picked)
    for j, col in enumerate(picked):
        v = x[:, col]
        nan = np.isnan(v)
        v = v[~nan]
        assert int(res["count"][j]) == v.size and int(res["nan_count"][j]) == int(nan.sum()), col
        if v.size == 0:
            assert res["sum"][j] == 0 and np.isnan(res["mean"][j]) and np.isnan(res["variance"][j])
            assert np.isnan(res["min"][j]) and np.isnan(res["max"][j])
            continue
        assert res["min"][j] == v.min() and res["max"][j] == v.max(), (col, res["min"][j], v.min())
        if not np.isfinite(v).all():
            with np.errstate(invalid="ignore"):
                m = v.mean()
            assert (np.isnan(m) and np.isnan(res["mean"][j])) or res["mean"][j] == m, (col, m)
            assert np.isnan(res["variance"][j])
            continue
        scale = max(1.0, float(np.abs(v).max()))
        assert abs(res["sum"][j] - v.sum()) <= 1e-12 * scale * v.size, (col, res["sum"][j], v.sum())
        assert abs(res["mean"][j] - v.mean()) <= 1e-12 * scale, (col, res["mean"][j], v.mean())
        assert abs(res["variance"][j] - v.var()) <= 1e-10 * max(1.0, v.var()), \
            (col, res["variance"][j], v.var())


def case_stats_columns(d):
    # Tables whose shapes, types, layouts and NaNs the code cannot know in advance: each one's
    # per-column statistics against numpy, and the same bits at other rank counts, chunk sizes
    # (which count rows) and schedules.
    import numpy as np
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    tables = []
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        for t in range(4):
            cols = int(rng.integers(1, 40))
            rows = int(rng.integers(1, 3 * (1 << 20) // cols))  # up to ~24 MiB: several blocks
            dtype = [np.float64, np.float32, np.int32, np.uint8][t]
            x = rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(0.1, 100), (rows, cols))
            if dtype in (np.int32, np.uint8):
                x = np.clip(np.round(x), 0 if dtype == np.uint8 else -2 ** 31, 255 if dtype ==
                            np.uint8 else 2 ** 31 - 1).astype(dtype)
            else:
                x = x.astype(dtype)
                k = int(rng.integers(0, rows * cols // 10 + 2))
                x[rng.integers(0, rows, k), rng.integers(0, cols, k)] = np.nan
                if cols > 2:
                    x[:, int(rng.integers(0, cols))] = np.nan  # a column of NaNs only
            layout = [dict(chunks=(min(rows, int(rng.integers(1, 5000))), cols)), {},
                      dict(chunks=(min(rows, int(rng.integers(100, 9000))), cols),
                           compression="gzip",
                           compression_opts=1), dict(chunks=True)][t]
            f.create_dataset(f"t{t}", data=x, **layout)
            tables.append((f"t{t}", x, cols))
        f.create_dataset("inf", data=np.array([[1.0, np.inf, 2.0], [3.0, 4.0, -np.inf],
                                               [5.0, np.inf, 6.0], [7.0, -np.inf, 8.0]]))
    for i, (name, x, cols) in enumerate(tables):
        picked = list(range(cols))
        args = [f"in.h5:/{name}", "--axis", "0"]
        if i % 2 == 1 and cols > 1:
            picked = sorted(set(int(c) for c in rng.integers(0, cols, max(1, cols // 2))))
            args += ["--columns", ",".join(map(str, picked))]
        ref = stats_of(d, f"{name}.h5", args)
        try:
            check_columns_against_numpy(ref, x, picked)
        except AssertionError:
            print(f"seed {seed}, table {name}, shape {x.shape}, {x.dtype}")
            raise
        with h5py.File(os.path.join(d, f"{name}.h5")) as f:
            block_rows = int(f["result"].attrs["block_rows"])
            nblocks = -(-x.shape[0] // block_rows)
            # Each chunk's partial in /partials: the moments (7 x 8 bytes) of each of its
            # blocks and picked columns, after the vector's 8-byte length.
            c = f["chunks"]
            begin, end = c["begin"][:], c["end"][:]
            assert int(end.max()) == x.shape[0]
            assert all(b % block_rows == 0 for b in begin)
            blocks = [-(-int(e) // block_rows) - int(b) // block_rows for b, e in zip(begin, end)]
            assert sum(blocks) == nblocks
            for k, nb in enumerate(blocks):
                off, n = int(c["partial_offset"][k]), int(c["partial_bytes"][k])
                assert n == 8 + nb * len(picked) * 56, (n, nb, picked)
                assert struct.unpack("<Q", f["partials"][off:off + 8].tobytes())[0] == \
                    nb * len(picked)
        rows_cs = int(rng.integers(1, x.shape[0] + 1))
        for ranks, extra in ((1, []), (3, ["--chunksize", str(rows_cs), "--schedule", "guided"])):
            other = stats_of(d, f"{name}_{ranks}.h5", args + extra, ranks=ranks)
            for k in ("sum", "mean", "variance", "min", "max", "count", "nan_count"):
                assert ref[k].tobytes() == other[k].tobytes(), (name, k, ranks, extra)
            if extra:
                with h5py.File(os.path.join(d, f"{name}_{ranks}.h5")) as f:
                    # --chunksize counts rows, rounded up to whole blocks.
                    cs = int(f["result"].attrs["chunksize"])
                    assert cs % block_rows == 0 and cs >= min(rows_cs, x.shape[0]), (cs, rows_cs)
    r = stats_of(d, "inf.h5", ["in.h5:/inf", "--axis", "0"])
    assert list(r["mean"][[0, 2]]) == [4.0, -np.inf] and np.isnan(r["mean"][1])
    assert np.isnan(r["variance"][1]) and r["max"][1] == np.inf and r["min"][1] == -np.inf


def case_stats_columns_refused(d):
    import numpy as np
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["t"] = np.arange(60.0).reshape(20, 3)
        f["flat"] = np.arange(10.0)
        f["cube"] = np.zeros((2, 3, 4))
    check_refused(d, [["stats", "in.h5:/t", "--axis", "0", "--bins", "10", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--axis", "1", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--columns", "1", "-o", "x.h5"],
                      ["stats", "in.h5:/flat", "--axis", "0", "-o", "x.h5"],
                      ["stats", "in.h5:/cube", "--axis", "0", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--axis", "0", "--columns", "3", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--axis", "0", "--columns", "1,1", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--axis", "0", "--columns", "2,0", "-o", "x.h5"],
                      ["stats", "in.h5:/t", "--axis", "0", "--columns", "x", "-o", "x.h5"]],
                   keep=["in.h5"])
    # A resume must pick the same columns.
    ok(["stats", "in.h5:/t", "--axis", "0", "--columns", "0,2", "-o", "s.h5", "-q"], cwd=d)
    p = poolrun(["stats", "in.h5:/t", "--axis", "0", "--columns", "1", "-o", "s.h5", "--resume"],
                cwd=d)
    assert p.returncode == 2 and "columns" in p.stderr, p.stderr


def case_stats_nonfinite(d):
    """Infinities and NaN-only data give numpy's statistics of the non-NaN values (nanmean, ...);
    a histogram range that would be infinite is refused, as numpy.histogram raises."""
    import warnings
    import numpy as np
    inf, nan = np.inf, np.nan
    data = {"inf": [inf] * 1000, "tail": [1, 2, 3, inf], "mixed": [1, inf, -inf, 2],
            "neg": [-inf, 5, 6], "nanonly": [nan] * 10, "naninf": [nan, 1, inf, nan],
            "ninf": [-inf, -inf]}
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        for k, v in data.items():
            f[k] = np.array(v, dtype=np.float64)
        f["f32"] = np.array([1, np.float32(inf), 2], dtype=np.float32)
        f.create_dataset("blocks", data=np.r_[np.arange(20000.0), inf, np.arange(5.0)],
                         chunks=(1000,))
        f.create_dataset("big", data=np.full(20000, 1e308), chunks=(1000,))
        f["big2"] = np.array([1e308, 1.5e308, -1e307])

    def same(a, b):
        return (np.isnan(a) and np.isnan(b)) or a == b

    data["f32"] = [1, inf, 2]
    with h5py.File(os.path.join(d, "in.h5")) as f:
        data["blocks"] = f["blocks"][()]
    for k, v in data.items():
        x = np.asarray(v, dtype=np.float64)
        r = stats_of(d, k + ".h5", [f"in.h5:/{k}"], ranks=3 if k == "blocks" else 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = {"sum": np.nansum(x), "mean": np.nanmean(x), "variance": np.nanvar(x),
                    "min": np.nanmin(x), "max": np.nanmax(x)}
        for key, w in want.items():
            assert same(r[key], w), (k, key, r[key], w)
        assert int(r["nan_count"]) == int(np.isnan(x).sum()) and int(r["count"]) == x.size - int(
            np.isnan(x).sum()), k
    # No value but NaNs: numpy.histogram of nothing, range [0, 1].
    r = stats_of(d, "h0.h5", ["in.h5:/nanonly", "--bins", "4"])
    counts, edges = np.histogram(np.array([]), bins=4)
    assert list(r["histogram"]) == list(counts) and np.array_equal(r["bin_edges"], edges)
    # A finite range leaves the infinities out, as numpy does.
    r = stats_of(d, "h1.h5", ["in.h5:/mixed", "--bins", "4", "--range", "0:4"])
    counts, edges = np.histogram(np.array(data["mixed"]), bins=4, range=(0, 4))
    assert list(r["histogram"]) == list(counts) and np.array_equal(r["bin_edges"], edges)
    # Finite data whose sum overflows: a finite mean (numpy says inf), the same bits at any
    # rank count or chunk size.
    r = stats_of(d, "b1.h5", ["in.h5:/big"], ranks=3)
    assert r["mean"] == 1e308 and r["variance"] == 0 and r["sum"] == inf, r
    r2 = stats_of(d, "b2.h5", ["in.h5:/big", "--chunksize", "1000"], ranks=2)
    assert all(same(r[k], r2[k]) for k in ("sum", "mean", "variance", "min", "max"))
    r = stats_of(d, "b3.h5", ["in.h5:/big2"])
    assert abs(r["mean"] - 8e307) <= 8e307 * 1e-15 and r["variance"] == inf, r
    # --bins without --range on data with an infinite min or max: refused, one line, exit 2.
    for k in ("tail", "neg", "mixed"):
        for ranks in (0, 2):
            p = poolrun(["stats", f"in.h5:/{k}", "--bins", "4", "-o", "r.h5", "--force"],
                        ranks=ranks, cwd=d)
            lines = p.stderr.splitlines()
            assert p.returncode == 2, (k, p.returncode, p.stderr)
            assert len(lines) == 1 and lines[0].startswith("poolrun: error: "), p.stderr
            assert "not finite" in lines[0] and f"in.h5:/{k}" in lines[0], lines
            with h5py.File(os.path.join(d, "r.h5")) as f:
                assert attr(f, "status") == "failed" and "not finite" in attr(f["error"], "message")
    # A --range with an infinity: refused before anything is created.
    keep = sorted(os.listdir(d))
    check_refused(d, [["stats", "in.h5:/tail", "--bins", "4", "--range", "0:inf", "-o", "x.h5"],
                      ["stats", "in.h5:/tail", "--bins", "4", "--range=-inf:1", "-o", "x.h5"]],
                  keep=keep)


def case_output_safety(d):
    """-o must be a regular file (or absent) and none of the run's inputs: even --force refuses
    directories, devices, FIFOs, symlinks to them, and the input under any name. Chunk sizes near
    2^64 do not wrap around."""
    import numpy as np
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["x"] = np.arange(100.0)
        f["img"] = np.zeros((2, 8, 8), dtype=np.uint8)
        f["n"] = np.arange(2, 50, dtype=np.uint64)
        f.create_dataset("big", data=np.arange(600_000.0), chunks=(1000,))
    os.mkdir(os.path.join(d, "adir"))
    os.mkfifo(os.path.join(d, "fifo.h5"))
    os.symlink("adir", os.path.join(d, "lnk_dir"))
    os.symlink("fifo.h5", os.path.join(d, "lnk_fifo.h5"))
    os.symlink("/dev/null", os.path.join(d, "null.h5"))
    os.symlink("in.h5", os.path.join(d, "lnk_in.h5"))
    keep = sorted(os.listdir(d))
    absin = os.path.join(d, "in.h5")
    st = ["stats", "in.h5:/x", "--force", "-o"]
    check_refused(d, [
        st + ["adir"], st + ["fifo.h5"], st + ["lnk_dir"], st + ["lnk_fifo.h5"], st + ["null.h5"],
        st + ["/dev/null"], st + ["in.h5"], st + ["./in.h5"], st + [absin], st + ["lnk_in.h5"],
        st + ["adir/../in.h5"], ["stats", "lnk_in.h5:/x", "-o", "in.h5", "--resume"],
        ["thumbnails", "in.h5:/img", "--size", "4x4", "--force", "-o", "lnk_in.h5"],
        ["factor", "--input", "in.h5:/n", "--force", "-o", "./lnk_in.h5"],
        ["stats", "in.h5:/x", "--chunksize", "18446744073709551616", "-o", "c.h5"]], keep=keep)
    assert os.path.islink(os.path.join(d, "null.h5")) and os.path.exists("/dev/null")
    import stat
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.lstat(os.path.join(d, "fifo.h5")).st_mode)
    assert os.listdir(os.path.join(d, "adir")) == []
    with h5py.File(absin) as f:
        assert list(f["x"][:3]) == [0.0, 1.0, 2.0]
    # A symlink to a regular file is replaced by the new file (the file it names is kept).
    with open(os.path.join(d, "old.h5"), "w") as o:
        o.write("old")
    os.symlink("old.h5", os.path.join(d, "lnk_old.h5"))
    ok(["stats", "in.h5:/x", "--force", "-o", "lnk_old.h5", "-q"], cwd=d)
    assert open(os.path.join(d, "old.h5")).read() == "old"
    # --chunksize 2^64 - 1: the whole dataset in one chunk, not a wrapped-around small one.
    big = "18446744073709551615"
    ok(["stats", "in.h5:/big", "--chunksize", big, "-o", "s.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "s.h5")) as f:
        assert len(f["chunks/begin"]) == 1 and int(f["result/count"][()]) == 600_000
        assert int(f["result"].attrs["chunksize"]) >= 600_000
    ok(["datagen", "--shape", "1000", "--chunk", "100", "--chunksize", big, "-o", "g.h5:/x", "-q"],
       cwd=d)
    with h5py.File(os.path.join(d, "g.h5")) as f:
        assert len(f["chunks/begin"]) == 1 and f["x"].shape == (1000,)


def case_datagen(d):
    import numpy as np
    # Same bytes at 1 and 3 ranks, any chunking; gzip changes the file, not the values.
    for i, (ranks, extra) in enumerate([(1, []), (3, ["--chunksize", "1000"]),
                                        (2, ["--chunk", "777", "--gzip", "6"])]):
        ok(["datagen", "--kind", "normal", "--shape", "200_000", "--seed", "42", "--dtype",
            "float32", "-o", f"v{i}.h5:/v", "-q"] + extra, ranks=ranks, cwd=d)
    data = []
    for i in range(3):
        with h5py.File(os.path.join(d, f"v{i}.h5")) as f:
            assert attr(f, "status") == "complete"
            data.append(f["v"][()].tobytes())
            assert int(f["v"].attrs["seed"]) == 42
    assert data[0] == data[1] == data[2]
    v = np.frombuffer(data[0], dtype=np.float32)
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1) < 0.01
    # uniform float64 is u53 of the documented Philox words, exactly.
    ok(["datagen", "--kind", "uniform", "--shape", "300x50", "--seed", str(2 ** 40 + 3),
        "-o", "u.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "u.h5")) as f:
        u = f["data"][()]
        assert u.dtype == np.float64 and u.shape == (300, 50)
    seed = 2 ** 40 + 3
    for i in (0, 1, 777, 14_999):
        r = philox4x32_10([i & 0xFFFFFFFF, i >> 32, 0, 0], [seed & 0xFFFFFFFF, seed >> 32])
        assert u.ravel()[i] == ((r[0] << 21) | (r[1] >> 11)) * 2.0 ** -53, i
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    # integer kind: [-1000, 999] as documented, also as int64 and int32.
    for dt in ("int32", "int64"):
        ok(["datagen", "--kind", "integer", "--shape", "1e5", "--dtype", dt, "-o",
            f"i{dt}.h5:/i", "-q"], cwd=d)
        with h5py.File(os.path.join(d, f"i{dt}.h5")) as f:
            x = f["i"][()]
            assert x.dtype == np.dtype(dt) and x.min() == -1000 and x.max() == 999
            r = philox4x32_10([5, 0, 0, 0], [0, 0])
            assert x[5] == ((r[0] * 2000) >> 32) - 1000
    # Images: structured (neighbours alike), not noise; deterministic across ranks.
    for ranks in (1, 2):
        ok(["datagen", "--kind", "image", "--shape", "10x32x48x3", "--seed", "7", "-o",
            f"img{ranks}.h5:/images", "-q"], ranks=ranks, cwd=d)
    with h5py.File(os.path.join(d, "img1.h5")) as f, h5py.File(os.path.join(d, "img2.h5")) as g:
        a = f["images"][()]
        assert a.dtype == np.uint8 and a.shape == (10, 32, 48, 3)
        assert np.array_equal(a, g["images"][()])
    a = a.astype(float)
    assert a.std() > 20 and np.abs(np.diff(a, axis=2)).mean() < 0.3 * a.std()


def case_thumbnails(d):
    import numpy as np
    ok(["datagen", "--kind", "image", "--shape", "37x64x64x3", "--seed", "1", "-o",
        "img.h5:/images", "-q"], cwd=d)
    ok(["thumbnails", "img.h5:/images", "--size", "16x16", "--chunksize", "5", "-o", "t.h5"],
       ranks=3, cwd=d)
    with h5py.File(os.path.join(d, "img.h5")) as f, h5py.File(os.path.join(d, "t.h5")) as g:
        check_common_layout(g, "thumbnails", 3)
        x = f["images"][()].astype(np.float64)
        t = g["result/thumbnails"]
        assert t.dtype == np.uint8 and t.shape == (37, 16, 16, 3) and t.chunks == (1, 16, 16, 3)
        # 4x4 block means, rounded half to even.
        want = np.rint(x.reshape(37, 16, 4, 16, 4, 3).mean(axis=(2, 4))).astype(np.uint8)
        assert np.array_equal(t[()], want), np.abs(t[()].astype(int) - want).max()
    # float32, no channel axis, factors 3 (rows) and 5 (columns), written by the test.
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, (9, 60, 100)).astype(np.float32)
    with h5py.File(os.path.join(d, "f.h5"), "w") as f:
        f["y"] = y
    ok(["thumbnails", "f.h5:/y", "--size", "20x20", "-o", "tf.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "tf.h5")) as g:
        t = g["result/thumbnails"][()]
        want = y.astype(np.float64).reshape(9, 20, 3, 20, 5).mean(axis=(2, 4))
        assert t.dtype == np.float32 and t.shape == (9, 20, 20)
        assert np.allclose(t, want, rtol=1e-6, atol=1e-7), np.abs(t - want).max()
    # A non-integer factor: shape, range, and the mean is kept (area weights sum to 1).
    ok(["thumbnails", "f.h5:/y", "--size", "33x17", "-o", "tn.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "tn.h5")) as g:
        t = g["result/thumbnails"][()]
        assert t.shape == (9, 17, 33)
        assert abs(t.mean(axis=(1, 2)) - y.mean(axis=(1, 2))).max() < 1e-5


def case_data_errors(d, part=0):
    import numpy as np
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["ok"] = np.arange(100.0)
        f["s"] = np.array([b"a", b"b"])
        f["c"] = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
        f["empty"] = np.zeros((0, 4))
        f["vec"] = np.zeros(16, dtype=np.uint8)
        f["img"] = np.zeros((2, 8, 8), dtype=np.uint8)
        f["img16"] = np.zeros((2, 8, 8), dtype=np.uint16)
        f.create_group("g")
    raw = open(os.path.join(d, "in.h5"), "rb").read()
    with open(os.path.join(d, "trunc.h5"), "wb") as t:
        t.write(raw[: len(raw) // 2])
    with open(os.path.join(d, "junk.h5"), "wb") as t:
        t.write(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    bad = [["stats", "none.h5:/ok"], ["stats", "in.h5:/nope"], ["stats", "in.h5:/s"],
           ["stats", "in.h5:/c"], ["stats", "in.h5:/empty"], ["stats", "in.h5:/g"],
           ["stats", "trunc.h5:/ok"], ["stats", "junk.h5:/ok"],
           ["stats", "in.h5:/ok", "--range", "0:1"], ["stats", "in.h5:/ok", "--bins", "3",
                                                      "--range", "2:1"],
           ["thumbnails", "in.h5:/vec", "--size", "2x2"],
           ["thumbnails", "in.h5:/img", "--size", "9x4"],
           ["thumbnails", "in.h5:/img16", "--size", "4x4"],
           ["thumbnails", "trunc.h5:/img", "--size", "4x4"],
           ["datagen", "--kind", "image", "--shape", "100"],
           ["datagen", "--kind", "normal", "--shape", "10", "--dtype", "int32"],
           ["datagen", "--shape", "10x0"], ["datagen", "--shape", "10", "--gzip", "10"],
           ["datagen", "--shape", "10", "-o", "x.h5:/chunks"]]
    keep = ["in.h5", "trunc.h5", "junk.h5"]
    bad = bad[:10] if part == 0 else bad[10:]
    check_refused(d, [args + ["-o", "out.h5"] if "-o" not in args else args for args in bad],
                  keep=keep)
    # The line names the file and the dataset.
    p = poolrun(["stats", "in.h5:/nope", "-o", "out.h5"], ranks=0, cwd=d)
    assert "in.h5:/nope" in p.stderr and "no such dataset" in p.stderr, p.stderr


def case_h5_errors(d):
    """HDF5 errors reach the user as one line naming the file, the dataset and the cause; the
    C++ call and HDF5's whole stack only with --debug."""
    import numpy as np
    rng = np.random.default_rng(3)
    with h5py.File(os.path.join(d, "gz.h5"), "w") as f:
        f.create_dataset("x", data=rng.normal(size=2_000_000), chunks=(10_000,),
                         compression="gzip")
        f.create_dataset("n", data=np.arange(2, 2_000_002, dtype=np.uint64), chunks=(10_000,),
                         compression="gzip")
        # Where a middle chunk of each dataset lies in the file.
        spots = [(f[k].id.get_chunk_info(100).byte_offset, f[k].id.get_chunk_info(100).size)
                 for k in ("x", "n")]
    raw = bytearray(open(os.path.join(d, "gz.h5"), "rb").read())
    for at, size in spots:  # zeros over those compressed chunks: inflate() fails
        raw[at:at + size] = bytes(size)
    with open(os.path.join(d, "bad.h5"), "wb") as t:
        t.write(raw)
    with open(os.path.join(d, "trunc.h5"), "wb") as t:
        t.write(raw[: len(raw) // 2])
    cpp = ("c_str", "id()", "H5P_DEFAULT", "H5D__", "H5F__")
    for args, code, names in [
            (["stats", "trunc.h5:/x"], 2, "trunc.h5:/x"),
            (["stats", "bad.h5:/x"], 1, "bad.h5:/x"),
            (["factor", "--input", "bad.h5:/n"], 1, "bad.h5:/n"),
            (["factor", "--input", "trunc.h5:/n"], 2, "trunc.h5:/n")]:
        for ranks in (0, 2):
            p = poolrun(args + ["-o", "out.h5", "--force", "-q"], ranks=ranks, cwd=d)
            lines = p.stderr.splitlines()
            assert p.returncode == code, (args, p.returncode, p.stderr)
            assert len(lines) == 1 and lines[0].startswith("poolrun: error: "), (args, p.stderr)
            assert names in lines[0] and len(lines[0]) < 400, (args, lines[0])
            assert not any(c in lines[0] for c in cpp), (args, lines[0])
            # --debug: the C++ call and the whole stack, still one line.
            p = poolrun(args + ["-o", "out.h5", "--force", "-q", "--debug"], ranks=ranks, cwd=d)
            lines = p.stderr.splitlines()
            assert p.returncode == code and len(lines) == 1, (args, p.stderr)
            assert "c_str" in lines[0] or "id()" in lines[0], lines[0]
            assert "H5D__" in lines[0] or "H5F__" in lines[0], lines[0]


def case_data_errors_2(d):
    case_data_errors(d, part=1)


# ---------------------------------------------------------------------------------------------
# Faults: nothing computed is lost. A run is killed (SIGKILL of a worker or of rank 0) once its
# ledger holds a few chunks; --resume at another rank count must then give the bits of a clean
# run. POOLRUN_TASK_DELAY_MS slows every task so that the kill lands mid-run on any machine.





def start(args, d, ranks=3, delay_ms=0, extra_env=None):
    env = dict(ENV)
    if delay_ms:
        env["POOLRUN_TASK_DELAY_MS"] = str(delay_ms)
    env.update(extra_env or {})
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] + args
    return subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_rows(d, out, rows, proc, timeout=60):
    wait_for_rows(os.path.join(d, out + ".partial"), rows, proc, timeout)


def crash_and_resume(d, args, out, victim, delay_ms, compare, rows=3):
    """Runs args cleanly (-n 2), then at -n 3 with a SIGKILL of `victim` ("worker" or "master")
    once the ledger holds `rows` rows, then --resume at -n 2; compare(clean, resumed) checks
    the results are the same bits."""
    ok(args + ["-o", "clean_" + out, "-q"], cwd=d)
    proc = start(args + ["-o", out, "-q", "--flush-interval", "0.2"], d, delay_ms=delay_ms)
    wait_rows(d, out, rows, proc)
    pids = rank_pids(proc.pid)
    assert len(pids) == 3, pids
    os.kill(pids[0] if victim == "master" else pids[2], signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    final, partial = os.path.join(d, out), os.path.join(d, out + ".partial")
    # Whatever is left never claims complete, and holds the rows flushed before the kill. A master
    # that saw its worker go before mpirun ended the job closes the file as failed.
    left = partial if os.path.exists(partial) else final
    with open_left(left) as f:
        allowed = ("running", "partial") + (("failed",) if victim == "worker" else ())
        assert attr(f, "status") in allowed, attr(f, "status")
        kept = len(f["chunks/begin"])
        assert kept >= rows, kept
    if victim == "master":
        assert left == partial, "a killed master cannot rename its file"
    p = ok(args + ["-o", out, "--resume", "-q"], ranks=2, cwd=d)
    with h5py.File(final) as f, h5py.File(os.path.join(d, "clean_" + out)) as c:
        assert attr(f, "status") == "complete"
        assert not os.path.exists(partial)
        attempts = set(int(a) for a in f["chunks/attempt"][:])
        assert attempts <= {1, 2} and 1 in attempts, attempts
        assert list(f["resumes/chunks_kept"][:]) == [kept]
        redone = sum(1 for a in f["chunks/attempt"][:] if a == 2)
        assert list(f["resumes/chunks_done"][:]) == [redone] and redone > 0
        assert int(f["resumes/ranks"][0]) == 2
        compare(c, f)
    # A second --resume of the complete file: says so, does nothing.
    mtime = os.path.getmtime(final)
    p = ok(args + ["-o", out, "--resume"], ranks=2, cwd=d)
    assert "already complete" in p.stdout, p.stdout
    assert os.path.getmtime(final) == mtime


def same(*paths):
    def check(c, f):
        for p in paths:
            a, b = c[p][()], f[p][()]
            assert (a == b).all() if hasattr(a, "all") else a == b, (p, a, b)
    return check


def fault_inputs(d):
    import numpy as np
    rng = np.random.default_rng(1)
    with h5py.File(os.path.join(d, "nums.h5"), "w") as f:
        f["n"] = rng.integers(2, 2 ** 62, 30_000, dtype=np.uint64)
    ok(["datagen", "--kind", "normal", "--shape", "8e6", "--chunk", "65536", "--seed", "3",
        "-o", "data.h5:/x", "-q"], cwd=d)
    ok(["datagen", "--kind", "image", "--shape", "600x32x32x3", "--seed", "4",
        "-o", "img.h5:/images", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "table.h5"), "w") as f:
        x = rng.normal(0, 1, (1_600_000, 5))
        x[rng.integers(0, 1_600_000, 1000), rng.integers(0, 5, 1000)] = np.nan
        f.create_dataset("t", data=x, chunks=(10_000, 5))
    with open(os.path.join(d, "exec_tasks.txt"), "w") as t:
        t.write("".join(f"echo {k}\n" for k in range(60)))


FAULT_WORKLOADS = {
    "pi": (["pi", "--samples", "3e8", "--chunksize", "1e7", "--seed", "5"], 150,
           same("result/pi", "result/inside")),
    "primes": (["primes", "--to", "3e8", "--chunksize", "1e7"], 150, same("result/count")),
    "powersum": (["powersum", "--exponent", "3", "--n", "1e8,2e8,5e7", "--chunksize", "1e7"],
                 150, same("result/sums", "result/total")),
    "factor": (["factor", "--input", "nums.h5:/n", "--chunksize", "1000"], 150,
               same("result/number", "result/smallest_factor")),
    "seed": (["seed"], 40, same("result/sum_squares/sums", "result/count_primes/counts",
                                "result/monte_carlo/pi", "result/sum_cubes/total",
                                "result/smallest_factor/smallest_factor")),
    "stats": (["stats", "data.h5:/x", "--chunksize", "524288"], 250,
              same("result/mean", "result/variance", "result/sum", "result/min", "result/max")),
    "stats_bins": (["stats", "data.h5:/x", "--chunksize", "524288", "--bins", "50"], 150,
                   same("result/mean", "result/variance", "result/histogram",
                        "result/bin_edges")),
    "stats_columns": (["stats", "table.h5:/t", "--axis", "0", "--columns", "0,2,3,4",
                       "--chunksize", "100000"], 250,
                      same("result/mean", "result/variance", "result/sum", "result/min",
                           "result/max", "result/count", "result/nan_count")),
    "datagen": (["datagen", "--kind", "normal", "--shape", "4e6", "--chunk", "1e5", "--seed", "9",
                 "--chunksize", "1e5"], 150, same("x")),
    "thumbnails": (["thumbnails", "img.h5:/images", "--size", "8x8", "--chunksize", "20"], 150,
                   same("result/thumbnails")),
    "exec": (["exec", "--tasks", "exec_tasks.txt"], 150,
             same("result/state", "result/exit_code", "result/succeeded")),
}


def crash_case(workload, victim):
    def case(d):
        assert workload in FAULT_WORKLOADS, f"{workload}: no FAULT_WORKLOADS entry (its run to kill)"
        fault_inputs(d)
        args, delay, compare = FAULT_WORKLOADS[workload]
        if workload == "datagen":
            out = "gen.h5"
            # datagen names its dataset in -o; resume and clean runs use the same one.
            ok(args + ["-o", "clean_gen.h5:/x", "-q"], cwd=d)
            proc = start(args + ["-o", "gen.h5:/x", "-q", "--flush-interval", "0.2"], d,
                         delay_ms=delay)
            wait_rows(d, out, 3, proc)
            pids = rank_pids(proc.pid)
            os.kill(pids[0] if victim == "master" else pids[2], signal.SIGKILL)
            proc.communicate(timeout=60)
            ok(args + ["-o", "gen.h5:/x", "--resume", "-q"], ranks=2, cwd=d)
            with h5py.File(os.path.join(d, out)) as f, \
                    h5py.File(os.path.join(d, "clean_gen.h5")) as c:
                assert attr(f, "status") == "complete"
                assert 2 in set(int(a) for a in f["chunks/attempt"][:])
                compare(c, f)
            return
        crash_and_resume(d, args, workload + ".h5", victim, delay, compare)
    return case


for _w in FAULT_WORKLOADS:
    globals()[f"case_kill_worker_{_w}"] = crash_case(_w, "worker")
    globals()[f"case_kill_master_{_w}"] = crash_case(_w, "master")


def case_sigterm_mpirun(d):
    # Chunks of a second each: SIGTERM to mpirun, which SIGKILLs its ranks ~1 s later. The flush
    # comes first, so the rows completed before the signal are on disk, and the run resumes.
    # The flush interval (60 s) has not come yet: only the signal flushes.
    # Chunks of 1e7 samples: their arithmetic stays well below the second's delay even in the
    # sanitizer build on a CPU without AVX-512, so chunks are done by the time of the signal.
    proc = start(["pi", "--samples", "2e8", "--chunksize", "1e7", "--seed", "1", "-o", "t.h5",
                  "-q", "--flush-interval", "60"], d, ranks=2, delay_ms=1000)
    time.sleep(3.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0  # mpirun returns 1 for a TERM it received itself
    left = os.path.join(d, "t.h5")
    if not os.path.exists(left):
        left += ".partial"
    with open_left(left) as f:
        assert attr(f, "status") in ("partial", "running"), attr(f, "status")
        rows = len(f["chunks/begin"])
        assert rows >= 1, rows
    ok(["pi", "--samples", "2e8", "--chunksize", "1e7", "--seed", "1", "-o", "t.h5", "--resume",
        "-q"], cwd=d)
    ok(["pi", "--samples", "2e8", "--seed", "1", "-o", "c.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "t.h5")) as f, h5py.File(os.path.join(d, "c.h5")) as c:
        assert f["result/inside"][()] == c["result/inside"][()]
        assert list(f["resumes/chunks_kept"][:]) == [rows]


def case_signal_rank0(d):
    # SIGTERM or SIGINT straight to rank 0 (a user's kill, a batch system's): exit 3, partial.
    for sig in (signal.SIGTERM, signal.SIGINT):
        out = f"s{int(sig)}.h5"
        proc = start(["pi", "--samples", "2e9", "--chunksize", "1e8", "--seed", "1", "-o", out,
                      "-q", "--flush-interval", "0.2"], d, ranks=2, delay_ms=1000)
        # Once a chunk is on disk (a fixed sleep was too short where the kernel runs slowly:
        # a sanitizer build on a CPU without AVX-512).
        wait_rows(d, out, 1, proc)
        os.kill(rank_pids(proc.pid)[0], sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (sig, proc.returncode, err)
        assert "has status partial" in err, err
        with h5py.File(os.path.join(d, out)) as f:
            assert attr(f, "status") == "partial"
            assert len(f["chunks/begin"]) >= 1


def case_signal_worker(d):
    # SIGTERM or SIGINT to one worker alone (an administrator's kill, a node going down): the
    # worker tells the master, which stops the run as for the same signal to rank 0 - exit 3,
    # partial, the rank named - and --resume completes it with a clean run's bits. It used to
    # be ignored: the run went on, and the worker was lost at the next step of mpirun.
    args = ["pi", "--samples", "4e8", "--chunksize", "2e7", "--seed", "2"]
    ok(args + ["-o", "clean.h5", "-q"], cwd=d)
    for sig in (signal.SIGTERM, signal.SIGINT):
        out = f"w{int(sig)}.h5"
        proc = start(args + ["-o", out, "-q", "--flush-interval", "0.2"], d, ranks=3,
                     delay_ms=300)
        wait_rows(d, out, 1, proc)
        os.kill(rank_pids(proc.pid)[2], sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, (sig, proc.returncode, err)
        assert f"by signal {int(sig)} (to rank 2)" in err and "has status partial" in err, err
        with h5py.File(os.path.join(d, out)) as f:
            assert attr(f, "status") == "partial"
            assert 1 <= len(f["chunks/begin"]) < 20
        ok(args + ["-o", out, "--resume", "-q"], cwd=d)
        with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
            assert attr(f, "status") == "complete"
            assert f["result/inside"][()] == c["result/inside"][()]


def case_signal_after_last_chunk(d):
    # A signal that reaches rank 0 right after a pass's last chunk (POOLRUN_TEST_POINT sends it
    # at that very point). What was computed decides: a one-pass run has everything and is
    # complete (exit 0, its results written); a two-pass run stops before its second pass, is
    # partial (exit 3) without results, and --resume completes it with a clean run's bits.
    def run(args, point=None):
        env = dict(ENV, POOLRUN_TEST_POINT=point) if point else ENV
        return subprocess.run([MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, *args],
                              cwd=d, env=env, capture_output=True, text=True, timeout=60)

    args = ["pi", "--samples", "1e7", "--seed", "3"]
    ok(args + ["-o", "clean.h5", "-q"], cwd=d)
    for sig in ("TERM", "USR1", "INT"):
        out = f"p{sig}.h5"
        p = run(args + ["-o", out], f"pass_end:{sig}")
        assert p.returncode == 0, (sig, p.returncode, p.stderr)
        assert "pi: 3.1" in p.stdout and "interrupted" not in p.stderr, (p.stdout, p.stderr)
        with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
            assert attr(f, "status") == "complete" and int(f["result"].attrs["complete"]) == 1
            assert f["result/pi"][()] == c["result/pi"][()]
        p = run(args + ["-o", out, "--resume"])
        assert p.returncode == 0 and "already complete" in p.stdout, (p.returncode, p.stderr)
    # 20 blocks of 4 MiB, a chunk each: most of the second pass is still queued at the signal.
    ok(["datagen", "--shape", "2e7", "--dtype", "float32", "--seed", "4", "-o", "x.h5:/x", "-q"],
       cwd=d)
    stats = ["stats", "x.h5:/x", "--bins", "20", "--chunksize", "1"]  # moments, then histogram
    ok(stats + ["-o", "sclean.h5", "-q"], cwd=d)
    p = run(stats + ["-o", "s.h5"], "pass_end:TERM")
    assert p.returncode == 3 and "has status partial" in p.stderr, (p.returncode, p.stderr)
    with h5py.File(os.path.join(d, "s.h5")) as f:
        assert attr(f, "status") == "partial" and "count" not in f["result"]
    ok(stats + ["-o", "s.h5", "--resume", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "s.h5")) as f, h5py.File(os.path.join(d, "sclean.h5")) as c:
        assert attr(f, "status") == "complete"
        for k in ("count", "mean", "variance", "histogram", "bin_edges"):
            assert f["result"][k][()].tobytes() == c["result"][k][()].tobytes(), k


def lost_rank(d, out, fault, extra_args=(), mca=(), rows=3):
    """A run at -n 3 whose rank 2 gets `fault(pid)` once `rows` rows are on disk; returns
    (seconds from the fault to the end of the job, poolrun's one line on stderr)."""
    args = ["pi", "--samples", "3e8", "--chunksize", "1e7", "--seed", "5"]
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="150")
    cmd = [MPIEXEC, "-q", "-n", "3", "--oversubscribe", *mca, POOLRUN, *args, "-o", out, "-q",
           "--flush-interval", "0.2", *extra_args]
    proc = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if rows:
        wait_rows(d, out, rows, proc)
    else:
        while len(rank_pids(proc.pid)) < 3 and proc.poll() is None:
            time.sleep(0.02)
    victim = rank_pids(proc.pid).get(2, -1)
    t0 = time.time()
    fault(victim)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        try:
            if victim > 0:
                os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    elapsed = time.time() - t0
    assert proc.returncode != 0, err
    lines = [line for line in err.splitlines() if line.startswith("poolrun")]
    assert len(lines) == 1, err
    with h5py.File(os.path.join(d, out)) as f:
        assert attr(f, "status") == "failed", attr(f, "status")
        assert len(f["chunks/begin"]) >= rows
        err_msg = attr(f["error"], "message")
        # /error names the rank and host that were lost (not the master that noticed).
        m = re.search(r"rank (\d+) on ([^\s:]+)", err_msg)
        assert m, err_msg
        assert int(f["error"].attrs["rank"]) == int(m.group(1)), dict(f["error"].attrs)
        assert attr(f["error"], "host") == m.group(2), dict(f["error"].attrs)
    ok(args + ["-o", out, "--resume", "-q"], cwd=d)
    ok(args + ["-o", "clean_" + out, "-q"], cwd=d)
    with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean_" + out)) as c:
        assert f["result/inside"][()] == c["result/inside"][()]
    return elapsed, lines[0]


def case_stopped_worker(d):
    # A worker that stops answering (SIGSTOP), also where mpirun would not end the job itself:
    # rank 0 notices, writes the file and ends the job within 10 s, naming rank and host.
    for mca in ((), ("--mca", "orte_abort_on_non_zero_status", "0")):
        elapsed, line = lost_rank(d, f"stop{len(mca)}.h5",
                                  lambda pid: os.kill(pid, signal.SIGSTOP), mca=mca)
        assert elapsed < 10, elapsed
        assert "rank 2 on " in line and "stopped answering" in line, line


def case_task_timeout(d):
    # Tasks of 150 ms over a --task-timeout of 0.125 s end the job like a lost rank: one line
    # naming rank and host and the limit as given, status failed, and the file resumes (without
    # the limit).
    elapsed, line = lost_rank(d, "tt.h5", lambda pid: None,
                              extra_args=("--task-timeout", "0.125"), rows=0)
    assert elapsed < 10, elapsed
    assert "rank " in line and " on " in line and "task timeout of 0.125 s" in line, line


def case_several_interruptions(d):
    # Interrupted (SIGUSR1) at 2 ranks, resumed and killed (rank 0) at 3, resumed at 2 with
    # other chunks and schedule: the bits of one clean run, attempts 1, 2 and 3 in the ledger.
    args = ["powersum", "--exponent", "3", "--n", "1e8,2e8,5e7"]
    ok(args + ["-o", "clean.h5", "-q"], cwd=d)
    first = start(args + ["--chunksize", "1e7", "-o", "m.h5", "-q", "--flush-interval", "0.2"],
                  d, ranks=2, delay_ms=200)
    wait_rows(d, "m.h5", 3, first)
    first.send_signal(signal.SIGUSR1)
    first.communicate(timeout=60)
    assert first.returncode == 3
    with h5py.File(os.path.join(d, "m.h5")) as f:
        kept = len(f["chunks/begin"])
    second = start(args + ["--chunksize", "1e7", "-o", "m.h5", "-q", "--flush-interval", "0.2",
                           "--resume"], d, ranks=3, delay_ms=200)
    wait_rows(d, "m.h5", kept + 3, second)
    os.kill(rank_pids(second.pid)[0], signal.SIGKILL)
    second.communicate(timeout=60)
    ok(args + ["--chunksize", "3e7", "--schedule", "guided", "-o", "m.h5", "--resume", "-q"],
       cwd=d)
    with h5py.File(os.path.join(d, "m.h5")) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
        assert attr(f, "status") == "complete"
        assert list(f["result/sums"].asstr()[:]) == list(c["result/sums"].asstr()[:])
        assert f["result/total"].asstr()[()] == c["result/total"].asstr()[()]
        assert set(int(a) for a in f["chunks/attempt"][:]) == {1, 2, 3}
        assert list(f["resumes/attempt"][:]) == [2, 3]
        # Every term counted once: the done rows tile the index space.
        spans = sorted(zip(f["chunks/begin"][:], f["chunks/end"][:]))
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "overlap or gap"
        assert spans[0][0] == 0 and spans[-1][1] == 350_000_000


def case_two_runs_one_output(d):
    # A second run aimed at a file a live run writes is refused before it touches anything,
    # with --force and with --resume too; the first run completes untouched.
    # The first run takes ~10 s; each refused one ends in 1-2 s (mpirun's teardown after exit 2).
    args = ["pi", "--samples", "4e8", "--chunksize", "1e7", "--seed", "2", "-o", "one.h5", "-q"]
    first = start(args + ["--flush-interval", "0.2"], d, ranks=2, delay_ms=500)
    wait_rows(d, "one.h5", 1, first)
    for extra in ([], ["--force"], ["--resume"]):
        p = poolrun(args + extra, cwd=d)
        assert p.returncode == 2, (extra, p.returncode, p.stderr)
        assert "being written by another run" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    with h5py.File(os.path.join(d, "one.h5")) as f:
        assert attr(f, "status") == "complete"
        assert len(f["chunks/begin"]) == 40
    assert not os.path.exists(os.path.join(d, "one.h5.lock"))


def case_swmr_reader(d):
    # A reader beside the writer, as docs/output.md invites (h5py with swmr=True), open while the
    # run writes and ends (the reopen for the last datasets, the rename), and while a --resume
    # opens the file: the run never notices it (HDF5's own file lock failed it with "unable to
    # lock file"; one writer per output is poolrun's lock's job).
    args = ["pi", "--samples", "2e8", "--chunksize", "1e7", "--seed", "6", "-q",
            "--flush-interval", "0.1"]
    ok(args + ["-o", "clean.h5"], cwd=d)
    proc = start(args + ["-o", "r.h5"], d, ranks=2, delay_ms=100)
    wait_rows(d, "r.h5", 1, proc)
    with h5py.File(os.path.join(d, "r.h5.partial"), "r", swmr=True) as f:
        assert len(f["chunks/begin"]) >= 0
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    proc = start(args + ["-o", "s.h5"], d, ranks=2, delay_ms=100)
    wait_rows(d, "s.h5", 2, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    with h5py.File(os.path.join(d, "s.h5"), "r", swmr=True) as f:
        assert attr(f, "status") == "partial"
        p = poolrun(args + ["-o", "s.h5", "--resume"], cwd=d)
    assert p.returncode == 0, p.stderr
    for out in ("r.h5", "s.h5"):
        with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
            assert attr(f, "status") == "complete", out
            assert f["result/pi"][()] == c["result/pi"][()], out


def case_ledger_checksums(d):
    # A flipped bit in the ledger (a chunk's partial column, its bytes in /partials): the row
    # fails its checksum, --resume says so and computes the chunk again: the bits of a clean run,
    # never a wrong "complete" result. The documented checksum matches every intact row.
    import zlib
    args = ["pi", "--samples", "2e8", "--chunksize", "1e7", "--seed", "6", "-q",
            "--flush-interval", "0.1"]
    ok(args + ["-o", "clean.h5"], cwd=d)
    for target in ("partial", "partials"):
        out = f"{target}.h5"
        proc = start(args + ["-o", out], d, ranks=2, delay_ms=100)
        wait_rows(d, out, 4, proc)
        proc.send_signal(signal.SIGUSR1)
        proc.communicate(timeout=60)
        assert proc.returncode == 3
        with h5py.File(os.path.join(d, out), "r+") as f:
            c = f["chunks"]
            for i in range(len(c["begin"])):
                off, n = int(c["partial_offset"][i]), int(c["partial_bytes"][i])
                want = zlib.crc32(struct.pack("<4Q", int(c["begin"][i]), int(c["end"][i]),
                                              int(c["partial"][i]), int(c["partial_hi"][i])) +
                                  c["status"][i].rstrip(b"\0") + b"\0" +
                                  c["pass"][i].rstrip(b"\0") + b"\0" +
                                  f["partials"][off:off + n].tobytes())
                assert int(c["checksum"][i]) == want, i
            if target == "partial":
                c["partial"][1] = int(c["partial"][1]) ^ 4
            else:
                off = int(c["partial_offset"][1])
                f["partials"][off] = f["partials"][off] ^ 4
        p = poolrun(args + ["-o", out, "--resume"], cwd=d)
        assert p.returncode == 0, p.stderr
        assert "1 ledger row(s)" in p.stderr and "fail their checksum" in p.stderr, p.stderr
        with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
            assert f["result/inside"][()] == c["result/inside"][()], target
            assert f["result/pi"][()] == c["result/pi"][()], target


def case_linked_inputs(d):
    # A dataset reached through an HDF5 external link, or a virtual dataset over other files:
    # those files are inputs too (provenance, identity), so a change in one is refused by
    # --resume (it used to resume silently over the changed data).
    import numpy as np
    x = np.random.default_rng(1).normal(size=4_000_000)  # 8 blocks of 4 MiB
    with h5py.File(os.path.join(d, "src.h5"), "w") as f:
        f["x"] = x
    with h5py.File(os.path.join(d, "more.h5"), "w") as f:
        f["x"] = x[:1000]
    with h5py.File(os.path.join(d, "link.h5"), "w") as f:
        f["x"] = h5py.ExternalLink("src.h5", "/x")
    layout = h5py.VirtualLayout(shape=(4_001_000,), dtype="f8")
    layout[:4_000_000] = h5py.VirtualSource("src.h5", "x", shape=(4_000_000,))
    layout[4_000_000:] = h5py.VirtualSource("more.h5", "x", shape=(1000,))
    with h5py.File(os.path.join(d, "vds.h5"), "w") as f:
        f.create_virtual_dataset("x", layout)
    for name, changed, sources in (("link", "src.h5", ["src.h5"]),
                                   ("vds", "more.h5", ["src.h5", "more.h5"])):
        args = ["stats", f"{name}.h5:/x", "--chunksize", "1", "-o", f"s_{name}.h5", "-q"]
        proc = start(args + ["--flush-interval", "0.2"], d, ranks=2, delay_ms=600)
        wait_rows(d, f"s_{name}.h5", 1, proc)
        proc.send_signal(signal.SIGUSR1)
        proc.communicate(timeout=60)
        assert proc.returncode == 3
        with h5py.File(os.path.join(d, f"s_{name}.h5")) as f:
            files = [os.path.basename(v.decode() if isinstance(v, bytes) else v)
                     for v in f.attrs["input_files"]]
            assert files == [f"{name}.h5"] + sources, files
        with h5py.File(os.path.join(d, changed), "r+") as f:
            f["x"][0] = 42.0
        p = poolrun(args + ["--resume"], cwd=d)
        assert p.returncode == 2 and "differs" in p.stderr, (name, p.returncode, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def case_resume_refusals(d):
    base = ["pi", "--samples", "4e8", "--chunksize", "2e7", "--seed", "2", "-o", "r.h5", "-q"]
    proc = start(base + ["--flush-interval", "0.2"], d, ranks=2, delay_ms=100)
    wait_rows(d, "r.h5", 2, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    refusals = {
        "seed differs": ["pi", "--samples", "4e8", "--seed", "3", "-o", "r.h5", "--resume"],
        "samples differs": ["pi", "--samples", "5e8", "--seed", "2", "-o", "r.h5", "--resume"],
        "workload differs": ["primes", "--to", "1e6", "-o", "r.h5", "--resume"],
    }
    for text, args in refusals.items():
        p = poolrun(args, cwd=d)
        assert p.returncode == 2 and text in p.stderr, (args, p.returncode, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = poolrun(["pi", "--samples", "1e6", "-o", "none.h5", "--resume"], cwd=d)
    assert p.returncode == 2 and "to continue" in p.stderr, p.stderr
    # Chunk size, schedule and rank count may change on resume.
    ok(["pi", "--samples", "4e8", "--chunksize", "3e7", "--schedule", "guided", "--seed", "2",
        "-o", "r.h5", "--resume", "-q"], ranks=3, cwd=d)
    ok(["pi", "--samples", "4e8", "--seed", "2", "-o", "c.h5", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "r.h5")) as f, h5py.File(os.path.join(d, "c.h5")) as c:
        assert f["result/pi"][()] == c["result/pi"][()]
    # An input that changed since the run it resumes is refused.
    ok(["datagen", "--shape", "4e6", "-o", "in.h5:/x", "-q"], cwd=d)  # 8 blocks of 4 MiB
    proc = start(["stats", "in.h5:/x", "--chunksize", "65536", "-o", "s.h5", "-q",
                  "--flush-interval", "0.2"], d, ranks=2, delay_ms=600)
    wait_rows(d, "s.h5", 1, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    path = os.path.join(d, "in.h5")
    st = os.stat(path)
    os.utime(path)
    p = poolrun(["stats", "in.h5:/x", "-o", "s.h5", "--resume"], cwd=d)
    assert p.returncode == 2 and "input_file differs" in p.stderr, p.stderr
    # Rewritten with its size and time kept (`touch -r`): the content's checksum tells.
    ok(["datagen", "--shape", "4e6", "--seed", "9", "-o", "in.h5:/x", "-q", "--force"], cwd=d)
    assert os.stat(path).st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    p = poolrun(["stats", "in.h5:/x", "-o", "s.h5", "--resume"], cwd=d)
    assert p.returncode == 2 and "changed since the run began" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def case_partial_input_refused(d):
    # An interrupted datagen output is not an input of stats, thumbnails or factor.
    proc = start(["datagen", "--shape", "4e6", "--chunk", "1e5", "--chunksize", "1e5", "-o",
                  "g.h5:/x", "-q", "--flush-interval", "0.2"], d, ranks=2, delay_ms=200)
    wait_rows(d, "g.h5", 2, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    p = poolrun(["stats", "g.h5:/x", "-o", "s.h5"], cwd=d)
    assert p.returncode == 2 and "status is 'partial'" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(d, "s.h5"))
    ok(["datagen", "--shape", "4e6", "--chunk", "1e5", "--chunksize", "1e5", "-o", "g.h5:/x",
        "--resume", "-q"], cwd=d)
    ok(["stats", "g.h5:/x", "-o", "s.h5", "-q"], cwd=d)


def case_workload_table(d):
    # CMake's per-workload cases (read from apps/poolrun/workloads.def) are poolrun's table, and
    # every workload in it has its fault run and its committed config.
    listed = builtin_workloads(POOLRUN, ENV)
    assert listed == os.environ["POOLRUN_TABLE"].split(","), (listed, os.environ["POOLRUN_TABLE"])
    for wl in listed:
        assert wl in FAULT_WORKLOADS, wl
        assert os.path.exists(os.path.join(CONFIGS, wl + ".toml")), wl


if __name__ == "__main__":
    case = sys.argv[4]
    if case.startswith(("kill_worker_", "kill_master_")) and "case_" + case not in globals():
        victim, _, wl = case[len("kill_"):].partition("_")  # a workload of the table, untested
        globals()["case_" + case] = crash_case(wl, victim)
    with tempfile.TemporaryDirectory(prefix="poolrun-e2e-") as tmp:
        globals()["case_" + case](tmp)
    print(f"{case}: ok")
