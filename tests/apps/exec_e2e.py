"""End-to-end tests of poolrun exec: real commands under the real binary and mpirun, the real
.h5 file read with h5py, real processes looked for in /proc.

Usage: exec_e2e.py POOLRUN POOLREPORT MPIEXEC CASE
"""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

import h5py

from e2e_helpers import attr, live_processes, open_left, rank_pids, wait_for_rows

POOLRUN, POOLREPORT, MPIEXEC = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
# The tasks get the environment poolrun was started with (docs/exec.md). The sanitizer build's
# LD_PRELOAD (tests/sanitizers) would reach /bin/sh with it and put AddressSanitizer's SEGV
# handler there, turning a task's segfault into an exit status: it is left out here.
ENV.pop("LD_PRELOAD", None)


def poolrun(args, d, ranks=2, env=None, timeout=120):
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN, "exec"] + args
    return subprocess.run(cmd, cwd=d, env=env or ENV, capture_output=True, text=True,
                          timeout=timeout)


def start(args, d, ranks=3, env=None):
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN, "exec"] + args
    return subprocess.Popen(cmd, cwd=d, env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def report(args, d):
    return subprocess.run([POOLREPORT] + args, cwd=d, capture_output=True, text=True, timeout=60)


def records(f):
    """Each ledger row's task record (docs/output.md, "poolrun exec"), in row order."""
    blob = f["partials"][:].tobytes()
    out = []
    for b, off, n in zip(f["chunks/begin"][:], f["chunks/partial_offset"][:],
                         f["chunks/partial_bytes"][:]):
        r = blob[int(off):int(off) + int(n)]
        pos = 0

        def take(fmt):
            nonlocal pos
            v = struct.unpack_from("<" + fmt, r, pos)
            pos += struct.calcsize("<" + fmt)
            return v[0]

        def text():
            nonlocal pos
            n = take("Q")
            s = r[pos:pos + n]
            pos += n
            return s.decode(errors="replace")
        rec = dict(index=int(b), exit_code=take("i"), signal=take("i"), timed_out=take("B"),
                   tries=take("i"), start=take("d"), end=take("d"), command=text(),
                   out_tail=text(), err_tail=text(), out_bytes=take("Q"), err_bytes=take("Q"),
                   error=text(), rank=take("i"), host=text(), interrupted=take("B"))
        assert pos == len(r), (pos, len(r))
        out.append(rec)
    return out


def task_processes(marker):
    """Processes whose command line holds `marker` (a task that outlived its run)."""
    return [(pid, cmd) for pid, cmd in live_processes()
            if marker in cmd and "exec_e2e" not in cmd and "poolrun" not in cmd]


def no_leftovers(marker, wait=6.0):
    t0 = time.time()
    while task_processes(marker) and time.time() - t0 < wait:
        time.sleep(0.1)
    assert not task_processes(marker), task_processes(marker)


# ---- cases ------------------------------------------------------------------------------------

def case_outcomes(d):
    # Successes, an exit status, a segfault, a hang (--timeout), 10 MB of output, a background
    # child, a program that does not exist: each is its own task's outcome; the run goes on.
    with open(os.path.join(d, "tasks.txt"), "w") as t:
        t.write("# comment\n\necho hello; echo oops >&2\n"          # 1
                "echo bad >&2; exit 3\n"                            # 2
                "kill -SEGV $$\n"                                   # 3
                "sleep 300 # xhang_marker\n"                        # 4 (timeout)
                "head -c 10000000 /dev/zero | tr '\\0' y; echo; echo last\n"  # 5
                "sh -c 'exec sleep 301 # xbg_marker' & echo started\n"       # 6
                "./no-such-program\n"                               # 7 (exit 127 from sh)
                "echo $POOLRUN_TASK_SEQ $POOLRUN_TASK_INDEX ${OMPI_COMM_WORLD_RANK-unset} "
                "${MY_VAR-unset} $OMP_NUM_THREADS $(pwd)\n")        # 8
    env = dict(ENV, MY_VAR="forwarded")
    t0 = time.time()
    p = poolrun(["--tasks", "tasks.txt", "--timeout", "2", "--grace", "0.5", "-o", "o.h5"], d,
                env=env)
    assert time.time() - t0 < 60
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert "4 of 8 tasks failed (2 exit status, 1 signal, 1 timeout" in p.stderr, p.stderr
    with h5py.File(os.path.join(d, "o.h5")) as f:
        assert attr(f, "status") == "failed"
        r = f["result"]
        assert list(r["state"][:]) == [1, 2, 3, 4, 1, 1, 2, 1], list(r["state"][:])
        assert list(r["exit_code"][:])[:3] == [0, 3, -1]
        assert r["exit_code"][6] == 127
        assert list(r["signal"][:])[2] == signal.SIGSEGV
        assert int(r["tasks"][()]) == 8 and int(r["failed"][()]) == 4
        recs = {x["index"]: x for x in records(f)}
        assert len(recs) == 8 and len(f["chunks/begin"]) == 8  # a row per task
        assert recs[0]["out_tail"] == "hello\n" and recs[0]["err_tail"] == "oops\n"
        assert recs[1]["err_tail"] == "bad\n"
        assert recs[3]["timed_out"] == 1 and recs[3]["end"] - recs[3]["start"] < 10
        assert recs[4]["out_bytes"] == 10_000_006 and len(recs[4]["out_tail"]) == 65536
        assert recs[4]["out_tail"].endswith("y\nlast\n")
        assert recs[5]["out_tail"] == "started\n"
        seq, index, ompi, var, omp, cwd = recs[7]["out_tail"].split()
        assert (seq, index, ompi, var) == ("8", "7", "unset", "forwarded"), recs[7]
        assert int(omp) >= 1 and os.path.realpath(cwd) == os.path.realpath(d)
    # Nothing a task started is left: the hang was killed, the background child too.
    no_leftovers("xhang_marker")
    no_leftovers("xbg_marker")
    # poolreport lists the failures, and --failed-tasks writes a task file to rerun them.
    text = report(["o.h5"], d).stdout
    assert "failed tasks: 4" in text and "#2 " in text and "exit status 3" in text, text
    assert "SIGSEGV" in text and "timed out" in text and "stderr: bad" in text, text
    again = report(["--failed-tasks", "o.h5"], d)
    assert again.returncode == 0
    assert again.stdout.splitlines() == ["echo bad >&2; exit 3", "kill -SEGV $$",
                                         "sleep 300 # xhang_marker", "./no-such-program"]


def case_template(d):
    # Items with spaces, quotes and semicolons stay one argument, with and without --shell.
    items = ["a b; rm -rf x", "it's \"q\"", "$HOME", "back\\slash"]
    with open(os.path.join(d, "items.txt"), "w") as f:
        f.write("\n".join(items) + "\n")
    os.mkdir(os.path.join(d, "x"))
    p = poolrun(["--args", "items.txt", "-o", "a.h5", "--", "printf", "[%s]#{#}", "{}"], d)
    assert p.returncode == 0, p.stderr
    p = poolrun(["--args", "items.txt", "--shell", "-o", "b.h5", "--",
                 "printf '<%s>' {} | tr a-z A-Z"], d)
    assert p.returncode == 0, p.stderr
    assert os.path.isdir(os.path.join(d, "x"))  # nobody ran rm
    with h5py.File(os.path.join(d, "a.h5")) as a, h5py.File(os.path.join(d, "b.h5")) as b:
        ra = sorted(records(a), key=lambda x: x["index"])
        rb = sorted(records(b), key=lambda x: x["index"])
        assert [x["out_tail"] for x in ra] == [f"[{i}]#{n + 1}" for n, i in enumerate(items)]
        assert [x["out_tail"] for x in rb] == [f"<{i.upper()}>" for i in items]
    # The recorded commands rerun as they ran (a task file for --tasks).
    cmds = [x["command"] for x in ra]
    for c, i, n in zip(cmds, items, range(4)):
        out = subprocess.run(["/bin/sh", "-c", c], capture_output=True, text=True).stdout
        assert out == f"[{i}]#{n + 1}", (c, out)
    # A range, the item last when the template names none; --output-dir keeps whole outputs.
    os.mkdir(os.path.join(d, "out"))
    p = poolrun(["--range", "5:8", "--output-dir", "out", "-o", "r.h5", "--", "echo", "n"], d)
    assert p.returncode == 0, p.stderr
    assert [open(os.path.join(d, "out", f"{k}.out")).read() for k in (1, 2, 3)] == \
        ["n 5\n", "n 6\n", "n 7\n"]


def case_usage(d):
    open(os.path.join(d, "t.txt"), "w").write("true\n")
    open(os.path.join(d, "empty.txt"), "w").write("# nothing\n\n")
    bad = [[],                                                   # no tasks
           ["--tasks", "t.txt", "--range", "0:3"],               # two sources
           ["--range", "0:3"],                                   # no template
           ["--tasks", "t.txt", "--", "echo"],                   # a template with --tasks
           ["--tasks", "missing.txt"],
           ["--tasks", "empty.txt"],
           ["--range", "0:3", "--halt", "later", "--", "true"],
           ["--range", "0:3", "--halt", "soon,fail=0", "--", "true"],
           ["--range", "0:3", "--timeout", "nan", "--", "true"],
           ["--range", "0:3", "--workdir", "nowhere", "--", "true"]]
    for args in bad:
        p = poolrun(args + ["-o", "u.h5"], d)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1, (args, p.stderr)
        assert not os.path.exists(os.path.join(d, "u.h5"))


def case_retries_halt(d):
    # A task that fails once: --retries reruns it; without, --resume --retry-failed does.
    flaky = "test -e m{} || { touch m{}; exit 9; }"
    p = poolrun(["--range", "0:4", "--shell", "--retries", "1", "-o", "r.h5", "--", flaky], d)
    assert p.returncode == 0, p.stderr
    with h5py.File(os.path.join(d, "r.h5")) as f:
        assert list(f["result/tries"][:]) == [2, 2, 2, 2]
        # A ledger row per try: the first round's four failures, then the retries'.
        recs = records(f)
        assert [r["tries"] for r in recs] == [1] * 4 + [2] * 4
        assert [r["exit_code"] for r in recs] == [9] * 4 + [0] * 4
    for k in range(4):
        os.remove(os.path.join(d, f"m{k}"))
    p = poolrun(["--range", "0:4", "--shell", "-o", "s.h5", "--", flaky], d)
    assert p.returncode == 1 and "4 of 4 tasks failed" in p.stderr, p.stderr
    p = poolrun(["--range", "0:4", "--shell", "-o", "s.h5", "--resume", "--", flaky], d)
    assert p.returncode == 1, p.stderr  # nothing runs again without --retry-failed
    p = poolrun(["--range", "0:4", "--shell", "-o", "s.h5", "--resume", "--retry-failed", "--",
                 flaky], d)
    assert p.returncode == 0, p.stderr
    with h5py.File(os.path.join(d, "s.h5")) as f:
        assert attr(f, "status") == "complete"
        assert list(f["result/state"][:]) == [1, 1, 1, 1]
        assert sorted(set(int(a) for a in f["chunks/attempt"][:])) == [1, 3]
    assert report(["--failed-tasks", "s.h5"], d).stdout == ""
    # --halt soon,fail=2: no task starts once the master has seen the second failure (those
    # running finish: the two that failed, and at most two a rank started meanwhile).
    p = poolrun(["--range", "0:200", "--halt", "soon,fail=2", "-o", "h.h5", "--shell", "--",
                 "sleep 0.2; false"], d)
    assert p.returncode == 1 and "--halt soon,fail=2" in p.stderr, p.stderr
    with open_left(os.path.join(d, "h.h5")) as f:
        assert attr(f, "status") == "failed"
        assert 2 <= len(f["chunks/begin"]) <= 6, len(f["chunks/begin"])
    # --halt now: the running tasks are killed too (and not recorded: --resume runs them).
    t0 = time.time()
    p = poolrun(["--range", "0:20", "--halt", "now,fail=1", "--grace", "0.5", "-o", "n.h5",
                 "--shell", "--", "if [ {} -eq 1 ]; then sleep 0.5; exit 1; fi; "
                 "exec sleep 3{} # xnow_marker"], d)
    assert p.returncode == 1 and "--halt now,fail=1" in p.stderr, p.stderr
    assert time.time() - t0 < 20
    no_leftovers("xnow_marker")
    with open_left(os.path.join(d, "n.h5")) as f:
        assert [int(b) for b in f["chunks/begin"][:]] == [1], f["chunks/begin"][:]
    # A percentage of the tasks.
    p = poolrun(["--range", "0:100", "--halt", "soon,fail=5%", "-o", "p.h5", "--shell", "--",
                 "test {} -lt 50"], d)
    assert p.returncode == 1 and "5 task(s) failed" in p.stderr, p.stderr


def kill_and_resume(d, victim):
    # Each task appends its index to a log: after kill -9 of a rank, --resume runs exactly the
    # tasks that have no ledger row (those that were running may have logged twice).
    cmd = ["--range", "0:24", "--shell", "--", "echo {} >> log; sleep 0.3; exec sleep 0.{} "
           "# xkill_marker"]
    proc = start(cmd[:2] + ["-o", "k.h5", "--flush-interval", "0.1", "-q"] + cmd[2:], d)
    wait_for_rows(os.path.join(d, "k.h5.partial"), 4, proc)
    pids = rank_pids(proc.pid, POOLRUN)
    assert len(pids) == 3, pids
    os.kill(pids[0] if victim == "master" else pids[2], signal.SIGKILL)
    proc.communicate(timeout=60)
    no_leftovers("xkill_marker")
    # A master that saw its worker go closes the file as failed; a killed master leaves .partial.
    left = os.path.join(d, "k.h5.partial")
    with open_left(left if os.path.exists(left) else os.path.join(d, "k.h5")) as f:
        assert attr(f, "status") != "complete"
        kept = set(int(b) for b in f["chunks/begin"][:])
    before = open(os.path.join(d, "log")).read().split()
    p = poolrun(cmd[:2] + ["-o", "k.h5", "--resume", "-q"] + cmd[2:], d)
    assert p.returncode == 0, p.stderr
    after = open(os.path.join(d, "log")).read().split()[len(before):]
    assert sorted(map(int, after)) == sorted(set(range(24)) - kept), (after, kept)
    with h5py.File(os.path.join(d, "k.h5")) as f:
        assert attr(f, "status") == "complete"
        assert list(f["result/state"][:]) == [1] * 24
        assert sorted(int(b) for b in f["chunks/begin"][:]) == list(range(24))


def case_kill_worker(d):
    kill_and_resume(d, "worker")


def case_kill_master(d):
    kill_and_resume(d, "master")


def case_sigterm(d):
    # SIGTERM to mpirun: the running tasks get SIGTERM, exit 3, status partial; --resume runs the
    # rest, and no task process is left.
    args = ["--range", "0:30", "--shell", "-o", "t.h5", "--flush-interval", "0.1", "-q", "--",
            "echo {} >> log; exec sleep 0.{}5 # xterm_marker"]
    proc = start(args, d, ranks=2)
    wait_for_rows(os.path.join(d, "t.h5.partial"), 3, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    no_leftovers("xterm_marker")
    left = os.path.join(d, "t.h5.partial")
    with open_left(left if os.path.exists(left) else os.path.join(d, "t.h5")) as f:
        assert attr(f, "status") in ("partial", "running"), attr(f, "status")
        done = len(f["chunks/begin"])
    assert 0 < done < 30, done
    p = poolrun(args[:-2] + ["--resume", "--"] + args[-1:], d)
    assert p.returncode == 0, p.stderr
    with h5py.File(os.path.join(d, "t.h5")) as f:
        assert list(f["result/state"][:]) == [1] * 30


def main():
    case = sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="exec-e2e-") as d:
        globals()["case_" + case](d)
    print("ok", case)


if __name__ == "__main__":
    main()
