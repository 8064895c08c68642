"""Helpers shared by the end-to-end tests (poolrun_e2e.py, poolreport_e2e.py): reading a file
that a run may be writing right now, and finding the pids of the ranks mpirun started."""
import os
import subprocess
import time

import h5py


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def ledger_rows(path):
    """Rows in /chunks of a file that may be written right now (a SWMR reader), or -1."""
    try:
        with h5py.File(path, "r", swmr=True) as f:
            return len(f["chunks/begin"])
    except (OSError, KeyError):
        return -1


def open_left(path):
    """Opens what a killed or stopped run left: as a SWMR reader if its writer died with the file
    open for SWMR writing, plainly if it managed to close it (HDF5 1.10 refuses the other way
    round in either case; which one happens depends on when mpirun killed rank 0)."""
    try:
        return h5py.File(path, "r", swmr=True)
    except OSError:
        return h5py.File(path, "r")


def wait_for_rows(path, rows, proc, timeout=60):
    """Waits until the ledger at `path` holds `rows` rows while `proc` still runs."""
    t0 = time.time()
    while ledger_rows(path) < rows:
        assert proc.poll() is None, f"the run ended before {rows} rows: {proc.communicate()}"
        assert time.time() - t0 < timeout, "no ledger rows"
        time.sleep(0.05)


def live_processes():
    """(pid, command line) of every process that is not a zombie."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as c:
                cmd = c.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as st:
                state = st.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append((int(pid), cmd))
    return found


def rank_pids(mpirun_pid, binary):
    """{MPI rank: pid} of the ranks of `binary` that mpirun started (single node: its children)."""
    ranks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as e:
                env = dict(kv.split(b"=", 1) for kv in e.read().split(b"\0") if b"=" in kv)
            with open(f"/proc/{pid}/stat") as st:
                ppid = int(st.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if b"OMPI_COMM_WORLD_RANK" in env and ppid == mpirun_pid and \
                os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(binary):
            ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(pid)
    return ranks


def builtin_workloads(poolrun, env=None):
    """poolrun's table of built-in workloads, in its order (`poolrun --list`): the per-workload
    cases come from it, so a new built-in is tested (or its missing test data fail) at once."""
    p = subprocess.run([poolrun, "--list"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.split("\t")[0] for line in p.stdout.splitlines() if line]
