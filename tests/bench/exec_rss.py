"""Peak resident memory of each rank of a `poolrun exec` run that is stopped early (for
tests/bench/exec.sh): starts the command (mpirun ... poolrun exec ...), waits until every rank has
finished its setup (the task file indexed: the rank has forked its watchdog, so it has a child),
watches the ranks for SECONDS more while they run tasks, then sends SIGTERM to mpirun. VmHWM (the
kernel's high-water mark of the resident set, from exec on) is read from /proc/PID/status of each
rank until it ends.

    exec_rss.py RANKS SECONDS POOLRUN -- COMMAND...

Prints one line: setup_s=S hwm_mib=R0,R1,... rss_mib=R0,R1,... (the last VmRSS seen per rank).
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apps"))
from e2e_helpers import rank_pids  # noqa: E402


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as s:
            for line in s:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def has_child(pid):
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as c:
                if c.read().strip():
                    return True
    except OSError:
        pass
    return False


def main():
    nranks, seconds, binary = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ranks = {}
    hwm, rss = {}, {}
    setup_s = None
    stop_at = None
    try:
        while proc.poll() is None:
            if len(ranks) < nranks:
                ranks = rank_pids(proc.pid, binary)
            for r, pid in ranks.items():
                h, s = status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")
                if h is not None:
                    hwm[r] = max(hwm.get(r, 0), h)
                    rss[r] = s
            if setup_s is None and len(ranks) == nranks and all(map(has_child, ranks.values())):
                setup_s = time.monotonic() - t0
                stop_at = time.monotonic() + seconds
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            if time.monotonic() - t0 > 300:
                raise SystemExit("exec_rss.py: the ranks did not finish their setup in 300 s")
            time.sleep(0.05)
        if proc.poll() is not None:
            raise SystemExit("exec_rss.py: the run ended by itself: " + proc.stderr.read().decode())
        proc.send_signal(signal.SIGTERM)
        # The ranks flush and stop; their high-water marks can only grow until they are gone.
        while proc.poll() is None:
            for r, pid in ranks.items():
                h = status_kb(pid, "VmHWM")
                if h is not None:
                    hwm[r] = max(hwm[r], h)
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    mib = lambda d: ",".join("%.1f" % (d[r] / 1024) for r in sorted(d))  # noqa: E731
    print("setup_s=%.2f hwm_mib=%s rss_mib=%s" % (setup_s, mib(hwm), mib(rss)))


if __name__ == "__main__":
    main()
