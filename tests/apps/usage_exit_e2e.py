"""Usage errors end together: under mpirun, a rejected input makes every rank exit 2 by itself
(no MPI_Abort), with one line on stderr from rank 0 and nothing from mpirun under -q.

Usage: usage_exit_e2e.py POOLRUN MPIEXEC
Each rank runs under a shell that records its own exit status, so the test sees every rank's,
not only the one mpirun passes on.
"""
import os
import subprocess
import sys
import tempfile

POOLRUN, MPIEXEC = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
# Runs poolrun, then writes "<rank> <status>" to a file of its own and leaves with that status.
RECORD = ('"$0" "$@"; rc=$?; echo "$OMPI_COMM_WORLD_RANK $rc" > "$STATUS_DIR/rank.'
          '$OMPI_COMM_WORLD_RANK"; exit $rc')


def run_refused(d, args, ranks, quiet=True):
    """Runs a refused command twice. First with mpirun told not to end the job when a rank exits
    non-zero (orte_abort_on_non_zero_status=0; mpirun then returns 0): every rank must exit 2 by
    itself. By default mpirun SIGTERMs the other ranks once one exits non-zero, and SIGKILLs a
    rank still there a second later, so which ranks record a status is mpirun's doing; then only
    mpirun's own status (2) and the output are checked."""
    status_dir = tempfile.mkdtemp(dir=d)
    base = [MPIEXEC] + (["-q"] if quiet else []) + ["-n", str(ranks), "--oversubscribe"]
    cmd = base[:1] + ["--mca", "orte_abort_on_non_zero_status", "0"] + base[1:] + [
        "sh", "-c", RECORD, POOLRUN] + args
    p = subprocess.run(cmd, cwd=d, env=dict(ENV, STATUS_DIR=status_dir), capture_output=True,
                       text=True, timeout=60)
    statuses = {}
    for name in os.listdir(status_dir):
        rank, rc = open(os.path.join(status_dir, name)).read().split()
        statuses[int(rank)] = int(rc)
    what = f"{args} at {ranks} ranks: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert statuses == {r: 2 for r in range(ranks)}, (statuses, what)
    assert "MPI_ABORT" not in p.stderr + p.stdout, what
    first = p.stderr
    p = subprocess.run(base + [POOLRUN] + args, cwd=d, env=ENV, capture_output=True, text=True,
                       timeout=60)
    what = f"{args} at {ranks} ranks: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.returncode == 2, what
    assert "MPI_ABORT" not in p.stderr + p.stdout, what
    if quiet:
        assert p.stderr == first, (first, what)
    return p


def main():
    with tempfile.TemporaryDirectory(prefix="poolrun-usage-") as d:
        with open(os.path.join(d, "exists.h5"), "w") as f:
            f.write("precious")
        with open(os.path.join(d, "typo.toml"), "w") as f:
            f.write("[pi]\nsamples = 1e6\ntypo = 3\n")
        cases = [["pi", "--samples", "0"], ["pi", "--samples", "1e6", "--bogus"],
                 ["primes", "--to", "1.5"], ["nosuchworkload"], ["pi", "--config", "typo.toml"],
                 ["pi", "--config", "none.toml"], ["pi", "--samples", "1e6", "-o", "exists.h5"],
                 ["stats", "missing.h5:/x"]]
        for ranks in (1, 2, 4):
            for args in cases:
                p = run_refused(d, args, ranks)
                lines = p.stderr.splitlines()
                assert len(lines) == 1 and lines[0].startswith("poolrun: error: "), p.stderr
                assert p.stdout == "", p.stdout
        # Without -q mpirun reports the status in its own words, but no rank aborted the job.
        p = run_refused(d, ["pi", "--samples", "0"], 2, quiet=False)
        assert p.stderr.splitlines()[0].startswith("poolrun: error: "), p.stderr
        assert open(os.path.join(d, "exists.h5")).read() == "precious"
        assert sorted(os.listdir(d)) == sorted(
            ["exists.h5", "typo.toml"] + [n for n in os.listdir(d) if n.startswith("tmp")])
    print("usage_exit: ok")


if __name__ == "__main__":
    main()
