"""End-to-end tests of poolrun: the real binary under mpirun, the real .h5 files read with h5py.

Usage: poolrun_e2e.py POOLRUN MPIEXEC CONFIGS_DIR CASE
Known answers come from the tutorial's printed output, the prime-counting table, and Python's
exact integers; nothing is compared only with another poolrun run unless the point is
reproducibility (pi across ranks, chunk sizes and schedules).
"""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py

POOLRUN, MPIEXEC, CONFIGS = sys.argv[1], sys.argv[2], sys.argv[3]
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


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


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
        assert sorted(r["smallest_factor/completion_order"][:]) == list(range(10))
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
    check_refused(d, [
        ["primes", "--config", "bad.toml"], ["primes", "--config", "none.toml"],
        ["primes", "--to", "100", "-o", "exists.h5"], ["seed", "-o", "exists.h5"],
        ["primes", "--to", "100", "-o", "no/dir/x.h5"], ["pi", "--samples", "0", "-o", "n.h5"]],
        keep=["bad.toml", "exists.h5"])
    assert open(os.path.join(d, "exists.h5")).read() == "precious"
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


def case_configs(d):
    # The committed configs run as they are, and --dump-config round-trips.
    for wl in ("powersum", "primes", "pi", "factor", "seed"):
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


if __name__ == "__main__":
    case = sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="poolrun-e2e-") as tmp:
        globals()["case_" + case](tmp)
    print(f"{case}: ok")
