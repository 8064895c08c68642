"""End-to-end tests of slurm/: the real dev cluster (munge, slurmctld, one slurmd per node in its
own namespaces), the real sbatch scripts, the real .h5 files read with h5py.

Usage: slurm_e2e.py SOURCE_DIR POOLRUN POOLREPORT MPIEXEC CASE
Every case checks the file a job wrote, not only the job's exit code: srun and mpirun rewrite
the ranks' exit codes. Results are compared bit for bit with a run outside Slurm.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

# The end-to-end tests' helpers: an attribute as text, the rows of a ledger being written.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apps"))
from e2e_helpers import attr, ledger_rows as rows, live_processes  # noqa: E402
import workloads_doc  # noqa: E402

SOURCE, POOLRUN, POOLREPORT, MPIEXEC = sys.argv[1:5]
SLURM = os.path.join(SOURCE, "slurm")
CLUSTER = os.path.join(SLURM, "dev-cluster.sh")
# The tests' own cluster: its own state, ports and subnet, so that a developer's cluster from
# `slurm/dev-cluster.sh start` is never touched.
STATE = os.environ.get("LIBPOOL_TEST_CLUSTER_DIR", "/tmp/libpool-test-cluster")
CLUSTER_ENV = dict(os.environ, LIBPOOL_CLUSTER_DIR=STATE, LIBPOOL_CLUSTER_PORT="16917",
                   LIBPOOL_CLUSTER_NET="10.78.0")
NODES = 3
ENV = dict(CLUSTER_ENV, SLURM_CONF=os.path.join(STATE, "etc", "slurm.conf"),
           POOLRUN=POOLRUN, POOLREPORT=POOLREPORT,
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
for k in ("LIBPOOL_ROOT", "LIBPOOL_LAUNCHER", "LIBPOOL_OUTPUT", "LIBPOOL_CONFIG"):
    ENV.pop(k, None)
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def cluster(*args, check=True):
    p = subprocess.run(["bash", CLUSTER, *args], capture_output=True, text=True, env=CLUSTER_ENV,
                       timeout=120)
    assert not check or p.returncode == 0, f"dev-cluster {args}: {p.returncode}\n{p.stdout}{p.stderr}"
    return p


def sbatch(d, script, args=(), opts=(), env=None):
    p = subprocess.run(["sbatch", "--parsable", *opts, os.path.join(SLURM, script), *args],
                       capture_output=True, text=True, cwd=d, env=env or ENV, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().split(";")[0]


def job(jid):
    out = subprocess.run(["scontrol", "show", "job", "-o", jid], capture_output=True, text=True,
                         env=ENV, timeout=30).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def wait_job(jid, timeout=240):
    t0 = time.time()
    while True:
        j = job(jid)
        if j.get("JobState") in FINAL:
            return j
        assert time.time() - t0 < timeout, f"job {jid} still {j.get('JobState')}"
        time.sleep(0.3)


def wait_running(jid, timeout=60):
    t0 = time.time()
    while job(jid).get("JobState") != "RUNNING":
        assert time.time() - t0 < timeout, f"job {jid} never ran: {job(jid)}"
        time.sleep(0.2)


def log(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read()


def wait_rows(path, n, timeout=60):
    t0 = time.time()
    while rows(path) < n and rows(path + ".partial") < n:
        assert time.time() - t0 < timeout, f"no {n} rows in {path}"
        time.sleep(0.2)


def local(d, args, ranks=2):
    """The same run outside Slurm: the reference bits."""
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN, *args, "-q"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=d, env=ENV, timeout=120)
    assert p.returncode == 0, p.stderr


def datasets(f, skip=("chunks", "partials", "workers", "resumes", "progress")):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.split("/")[0] not in skip:
            out[name] = obj[()]
    f.visititems(visit)
    return out


def same_results(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        assert sorted(da) == sorted(db), (sorted(da), sorted(db))
        for k in da:
            x, y = np.asarray(da[k]), np.asarray(db[k])
            assert x.dtype == y.dtype and x.shape == y.shape, k
            if x.dtype == object:  # variable-length strings: compare the values
                assert x.tolist() == y.tolist(), f"{k} differs: {x} vs {y}"
            else:
                assert x.tobytes() == y.tobytes(), f"{k} differs: {x} vs {y}"


def complete(path, workload):
    with h5py.File(path, "r") as f:
        assert attr(f, "status") == "complete", attr(f, "status")
        assert attr(f, "workload") == workload
        assert attr(f, "slurm_job_id")
        return [h for h in f.attrs["hosts"]], sorted(set(f["workers/host"].asstr()[:]))


def case_start(d):
    # Idempotent: a second start finds it up; status says so; each node has its own name and
    # address.
    cluster("start", "--nodes", str(NODES))
    p = cluster("start", "--nodes", str(NODES))
    assert "already up" in p.stderr, p.stderr
    p = cluster("status")
    for i in range(1, NODES + 1):
        assert re.search(rf"n{i} idle 2 cpus 10\.78\.0\.{10 + i}", p.stdout), p.stdout
    assert "export SLURM_CONF=" in cluster("env").stdout
    jid = sbatch(d, "../tests/slurm/hosts.sbatch", opts=["-N", str(NODES), "--output=h-%j.out"])
    assert wait_job(jid)["JobState"] == "COMPLETED"
    names = sorted(log(d, f"h-{jid}.out").split())
    assert names == [f"n{i}" for i in range(1, NODES + 1)], names


def case_scripts(d):
    # Every workload through the generic script with small parameters, poolrun found through
    # PATH, submitted from a directory that is not the source tree; outputs land beside the
    # logs, named with the workload and the job id.
    env = dict(ENV, PATH=os.path.dirname(POOLRUN) + ":" + os.path.dirname(POOLREPORT) + ":"
               + os.environ["PATH"])
    env.pop("POOLRUN")
    env.pop("POOLREPORT")
    small = {
        "seed": [],
        "powersum": ["--exponent", "3", "--n", "1e6"],
        "primes": ["--to", "1e7"],
        "pi": ["--samples", "1e7", "--seed", "5"],
        "factor": ["--numbers", "1000003", "999983", "62710561"],
        "datagen": ["--kind", "image", "--shape", "8x16x16x3", "-o", "img.h5:/images"],
    }
    jobs = {w: sbatch(d, "poolrun.sbatch", [w, *a], ["-n", "2"], env) for w, a in small.items()}
    assert wait_job(jobs["datagen"])["JobState"] == "COMPLETED"
    after = {
        "stats": ["img.h5:/images", "--bins", "8"],
        "thumbnails": ["img.h5:/images", "--size", "4x4"],
    }
    for w, a in after.items():
        jobs[w] = sbatch(d, "poolrun.sbatch", [w, *a], ["-n", "2"], env)
        small[w] = a
    for w, jid in jobs.items():
        j = wait_job(jid)
        out = "img.h5" if w == "datagen" else f"{w}-{jid}.h5"
        # The generic script's job is named poolrun: its log is poolrun-<job id>.out, its
        # output is named after the workload.
        text = log(d, f"poolrun-{jid}.out")
        assert j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0", (w, j, text)
        complete(os.path.join(d, out), w)
        ref = f"ref-{w}.h5"
        if w == "datagen":
            args = [a if a != "img.h5:/images" else ref + ":/images" for a in small[w]]
            local(d, ["datagen", "--config", f"{SOURCE}/configs/datagen.toml", *args])
        else:
            local(d, [w, "--config", f"{SOURCE}/configs/{w}.toml", *small[w], "-o", ref])
        same_results(os.path.join(d, out), os.path.join(d, ref))


def requeued_to_completion(d, jid, log_name, out_name, workload):
    """A job that hit its time limit, ended partial (exit 3 after the warning), requeued itself
    and completed on a later attempt; returns the output's path."""
    j = wait_job(jid, timeout=360)
    text = log(d, log_name)
    assert j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0", (j, text)
    assert int(j["Restarts"]) >= 1, (j, text)
    assert re.search(r"status partial, \d+ chunks done .* job exit 3", text), text
    assert "requeueing job" in text and "attempt 2" in text, text
    out = os.path.join(d, out_name)
    complete(out, workload)
    with h5py.File(out, "r") as f:
        assert list(f["resumes/previous_status"].asstr()[:])[0] == "partial"
        assert max(f["chunks/attempt"][:]) >= 2
    return out


def case_user_program(d):
    """The generic script runs a built-in workload by name and a user's own program (the
    collatz example, built against an installed libpool) by path; the program's time-limited
    job requeues itself and resumes to the bits of a run outside Slurm."""
    jid = sbatch(d, "poolrun.sbatch", ["pi", "--samples", "1e7", "--seed", "5"], ["-n", "2"])
    j = wait_job(jid)
    assert j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0", (j, log(d, f"poolrun-{jid}.out"))
    complete(os.path.join(d, f"pi-{jid}.h5"), "pi")
    local(d, ["pi", "--config", f"{SOURCE}/configs/pi.toml", "--samples", "1e7", "--seed", "5",
              "-o", "ref-pi.h5"])
    same_results(os.path.join(d, f"pi-{jid}.h5"), os.path.join(d, "ref-pi.h5"))

    program = os.environ["LIBPOOL_EXAMPLE"]
    shutil.copy(program, os.path.join(d, "collatz"))
    # ~45 s of arithmetic on the cluster's 2 cores; Slurm's warning 20 s into each attempt (its
    # controller looks every few tens of seconds, so the first attempt sees it later).
    args = ["--range", "1:300_000_000", "--chunksize", "2_000_000"]
    jid = sbatch(d, "poolrun.sbatch", ["./collatz", *args],
                 ["-N", "2", "-n", "4", "--time=1", "--signal=B:USR1@40"])
    out = requeued_to_completion(d, jid, f"poolrun-{jid}.out", f"collatz-{jid}.h5", "collatz")
    p = subprocess.run([MPIEXEC, "-q", "-n", "2", "--oversubscribe", os.path.join(d, "collatz"),
                        *args, "-o", "ref.h5", "-q"], capture_output=True, text=True, cwd=d,
                       env=ENV, timeout=300)
    assert p.returncode == 0, p.stderr
    same_results(out, os.path.join(d, "ref.h5"))


def case_workloads_doc(d):
    """docs/workloads.md's Slurm section as a reader runs it: its sbatch commands as the page
    has them, in the reader's directory that apps.workloads_doc left (libpool installed in
    ~/.local, the program in build-collatz/), with what the page's commands exported. Added:
    SLURM_CONF for the dev cluster (what `eval "$(slurm/dev-cluster.sh env)"` sets). The page's
    --range 1:1e11 is hours of arithmetic on this cluster's 6 CPUs, so the test checks that
    the job runs as the page says (its nodes, the program on them, the output and the log where
    and as the page names them) and then ends it with scancel; user_program runs the same
    program through time limits and requeues to completion."""
    work = os.environ["LIBPOOL_WORKLOADS_DOC"]
    with open(os.path.join(work, "session.json")) as f:
        session = json.load(f)
    env = dict(ENV, HOME=session["home"], **session["exported"])
    for k in ("POOLRUN", "POOLREPORT"):  # the installed copy's, as for the reader
        env.pop(k)
    cwd = session["cwd"]
    shell = workloads_doc.Shell(cwd, env, os.path.join(d, "logs"))
    doc = workloads_doc.parse(os.path.join(SOURCE, "docs", "workloads.md"))
    cmds = [c for b in doc if b.section == workloads_doc.SLURM_SECTION and b.lang == "sh"
            for c in workloads_doc.commands(b)]
    assert cmds
    for c in cmds:
        rc, out, err = shell.run(c.text, timeout=60)
        assert rc == c.exit == 0, (c.text, rc, out, err)
        jid = re.fullmatch(r"Submitted batch job (\d+)", out.strip())[1]
        nodes = int(re.search(r"-N (\d+)", c.bare)[1])
        output = os.path.join(cwd, f"collatz-{jid}.h5")
        try:
            wait_running(jid)
            # The program opened its ledger: it runs on the job's ranks.
            t0 = time.time()
            while rows(output + ".partial") < 0:
                assert job(jid).get("JobState") == "RUNNING" and time.time() - t0 < 60, \
                    (job(jid), log(cwd, f"poolrun-{jid}.out"))
                time.sleep(0.2)
        finally:
            subprocess.run(["scancel", jid], env=ENV, capture_output=True)
        j = wait_job(jid)
        text = log(cwd, f"poolrun-{jid}.out")
        assert j["JobState"] == "CANCELLED" and int(j["NumNodes"]) == nodes, (j, text)
        assert "/build-collatz/collatz " in text and " --range 1:1e11" in text, text
        with h5py.File(output, "r") as f:  # TERM: flushed, drained, ended the file
            assert attr(f, "status") == "partial" and attr(f, "workload") == "collatz"
            assert attr(f, "slurm_job_id") == jid
            assert len(set(f.attrs["hosts"])) == nodes, f.attrs["hosts"]


def slow_pi(extra=()):
    # ~45 s of wall time at 4 ranks from sleeps, ~0.1 s of arithmetic: CPU-light, and the bits
    # are those of a quick run.
    return ["--samples", "6e6", "--chunksize", "10000", "--seed", "7", *extra]


def case_time_limit(d):
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="300")
    jid = sbatch(d, "poolrun.sbatch", ["pi", *slow_pi()], ["-N", "2", "-n", "4", "--time=1",
                                                          "--signal=B:USR1@40"], env)
    # Beside it, on the third node: a command farm of 1 s tasks, each logging its index. At the
    # warning the running tasks are stopped (not recorded), the job requeues and resumes; every
    # task ends recorded once, and only the interrupted ones ran twice.
    farm = sbatch(d, "poolrun.sbatch", ["exec", "--range", "0:70", "--", "sh", "-c",
                                        "echo {} >> farm.log; sleep 1"],
                  ["-N", "1", "-n", "2", "--time=1", "--signal=B:USR1@40"])
    out = requeued_to_completion(d, jid, f"poolrun-{jid}.out", f"pi-{jid}.h5", "pi")
    farm_out = requeued_to_completion(d, farm, f"poolrun-{farm}.out", f"exec-{farm}.h5", "exec")
    with h5py.File(farm_out, "r") as f:
        assert sorted(int(b) for b in f["chunks/begin"][:]) == list(range(70))
        assert list(f["result/state"][:]) == [1] * 70
        attempts = int(max(f["chunks/attempt"][:]))
    ran = [int(x) for x in open(os.path.join(d, "farm.log")).read().split()]
    assert sorted(set(ran)) == list(range(70)), ran
    assert len(ran) - 70 <= 2 * (attempts - 1), (len(ran), attempts)
    with h5py.File(out, "r") as f:
        assert len(f["chunks/begin"]) == 600
    local(d, ["pi", *slow_pi(), "-o", "ref.h5"], ranks=2)
    same_results(out, os.path.join(d, "ref.h5"))


def case_scancel_resume(d):
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="200")
    jid = sbatch(d, "poolrun.sbatch", ["pi", *slow_pi()], ["-N", "2", "-n", "4"], env)
    out = os.path.join(d, f"pi-{jid}.h5")
    wait_rows(out, 20)
    subprocess.run(["scancel", jid], env=ENV, check=True)
    j = wait_job(jid)
    assert j["JobState"] == "CANCELLED", j
    with h5py.File(out, "r") as f:  # TERM: the ranks flushed, drained, and ended the file
        assert attr(f, "status") == "partial", attr(f, "status")
        done = len(f["chunks/begin"])
    assert 20 <= done < 600, done
    # Resuming: the same script given the output continues it, on another shape.
    jid2 = sbatch(d, "poolrun.sbatch", ["pi", *slow_pi(["-o", out])], ["-N", "1", "-n", "2"],
                  dict(ENV, POOLRUN_TASK_DELAY_MS="0"))
    j2 = wait_job(jid2)
    text = log(d, f"poolrun-{jid2}.out")
    assert j2["ExitCode"] == "0:0", (j2, text)
    assert "--resume" in text, text
    complete(out, "pi")
    with h5py.File(out, "r") as f:
        assert len(f["resumes/time"]) == 1
        assert int(f["resumes/chunks_kept"][0]) == done
    local(d, ["pi", *slow_pi(), "-o", "ref.h5"])
    same_results(out, os.path.join(d, "ref.h5"))


def case_nodes(d):
    # The same job on 1, 2 and 3 nodes, through srun and through mpirun: the same bits, and
    # every node in the file.
    args = ["--samples", "3e7", "--chunksize", "1e6", "--seed", "11"]
    local(d, ["pi", *args, "-o", "ref.h5"])
    runs = [("srun", 1, 2), ("srun", 2, 4), ("mpirun", 2, 4), ("srun", 3, 6), ("mpirun", 3, 3)]
    for launcher, nodes, ranks in runs:
        env = dict(ENV, LIBPOOL_LAUNCHER=launcher)
        jid = sbatch(d, "poolrun.sbatch", ["pi", *args], ["-N", str(nodes), "-n", str(ranks)], env)
        j = wait_job(jid)
        text = log(d, f"poolrun-{jid}.out")
        assert j["ExitCode"] == "0:0", (launcher, nodes, text)
        assert f": {launcher} " in text, text
        out = os.path.join(d, f"pi-{jid}.h5")
        hosts, worker_hosts = complete(out, "pi")
        want = [f"n{i}" for i in range(1, nodes + 1)]
        assert sorted(hosts) == want and worker_hosts == want, (launcher, hosts, worker_hosts)
        with h5py.File(out, "r") as f:
            assert int(f.attrs["ranks"]) == ranks
        same_results(out, os.path.join(d, "ref.h5"))


def node_pids(node):
    with open(os.path.join(STATE, "nodes", f"{node}.netns")) as f:
        ns = f.read().strip()
    with open(os.path.join(STATE, "nodes", f"{node}.holder")) as f:
        holder = int(f.read())
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != holder:
            try:
                if os.readlink(f"/proc/{p}/ns/net") == ns:
                    pids.append(int(p))
            except OSError:
                pass
    return pids


def case_node_death(d):
    # A worker node dies (its slurmd, step daemon and ranks killed): the job ends non-zero
    # within the liveness timeout, the file names the rank and host and resumes elsewhere.
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="200")
    jid = sbatch(d, "poolrun.sbatch", ["pi", *slow_pi()], ["-N", "2", "-n", "4", "--no-requeue"],
                 env)
    out = os.path.join(d, f"pi-{jid}.h5")
    try:
        wait_rows(out, 20)
        for p in node_pids("n2"):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        t0 = time.time()
        while True:
            try:
                with h5py.File(out, "r") as f:
                    if attr(f, "status") != "running":
                        break
            except OSError:
                pass
            assert time.time() - t0 < 15, "the job did not notice the dead node"
            time.sleep(0.2)
        with h5py.File(out, "r") as f:
            assert attr(f, "status") == "failed", attr(f, "status")
            err = f["error"]
            assert attr(err, "host") == "n2" and "stopped answering" in attr(err, "message"), \
                dict(err.attrs)
            done = len(f["chunks/begin"])
        j = wait_job(jid, timeout=120)
        assert j["JobState"] in ("FAILED", "NODE_FAIL", "CANCELLED"), j
        assert j["ExitCode"] != "0:0", j
        # It had computed chunks: not launched again.
        assert "launching again" not in log(d, f"poolrun-{jid}.out")
        jid2 = sbatch(d, "poolrun.sbatch", ["pi", *slow_pi(["-o", out])],
                      ["-N", "1", "-n", "2", "-w", "n1"],
                      dict(ENV, POOLRUN_TASK_DELAY_MS="0"))
        j2 = wait_job(jid2)
        assert j2["ExitCode"] == "0:0", log(d, f"poolrun-{jid2}.out")
        complete(out, "pi")
        with h5py.File(out, "r") as f:
            assert int(f["resumes/chunks_kept"][0]) == done
            assert list(f["resumes/previous_status"].asstr()[:]) == ["failed"]
        local(d, ["pi", *slow_pi(), "-o", "ref.h5"])
        same_results(out, os.path.join(d, "ref.h5"))
    finally:
        subprocess.run(["scancel", jid], env=ENV, capture_output=True)
        cluster("start", "--nodes", str(NODES))  # brings n2 back (a restart)


def case_array(d):
    # No POOLRUN/POOLREPORT and none on PATH: the scripts take the source tree's build folder
    # (where scripts/test.sh builds) when that is the build under test.
    env = dict(ENV)
    in_tree = os.path.join(SOURCE, "build", "apps", "poolrun", "poolrun")
    if os.path.exists(in_tree) and os.path.samefile(in_tree, POOLRUN):
        env.pop("POOLRUN")
        env.pop("POOLREPORT")
    jid = sbatch(d, "pi-array.sbatch", ["--samples", "1e6"], ["--array=0-2", "-n", "2"], env)
    for t in range(3):
        j = wait_job(f"{jid}_{t}")
        out = os.path.join(d, f"pi-seeds-{jid}_{t}.h5")
        assert j["ExitCode"] == "0:0", log(d, f"pi-seeds-{jid}_{t}.out")
        complete(out, "pi")
        if "POOLRUN" not in env:
            assert in_tree in log(d, f"pi-seeds-{jid}_{t}.out")
        with h5py.File(out, "r") as f:
            assert attr(f, "identity")  # the seed is part of what a resume must match
            cfg = attr(f, "command_line")
            assert f"--seed {1000 + t}" in cfg, cfg
        local(d, ["pi", "--samples", "1e6", "--seed", str(1000 + t), "-o", f"ref{t}.h5"])
        same_results(out, os.path.join(d, f"ref{t}.h5"))


def case_launch_errors(d):
    # srun without PMIx: Debian's Open MPI cannot start; the job fails and writes nothing.
    env = dict(ENV, LIBPOOL_LAUNCHER="srun", LIBPOOL_SRUN_ARGS="--mpi=none")
    jid = sbatch(d, "poolrun.sbatch", ["pi", "--samples", "1e6"], ["-n", "2"], env)
    j = wait_job(jid)
    text = log(d, f"poolrun-{jid}.out")
    assert j["ExitCode"] != "0:0" and "no output written" in text, (j, text)
    assert not os.path.exists(os.path.join(d, f"pi-{jid}.h5"))
    # Ranks that came up as separate one-rank jobs (what a PMI mismatch can produce): each
    # sees fewer ranks than the job asked for and refuses before touching the output.
    p = subprocess.run([POOLRUN, "pi", "--samples", "1e6", "-o", "x.h5"], capture_output=True,
                       text=True, cwd=d, env=dict(ENV, POOLRUN_EXPECT_RANKS="4"), timeout=60)
    assert p.returncode == 2, p.stderr
    assert "MPI started 1 rank(s) but this job asked for 4" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(d, "x.h5"))
    jid = sbatch(d, "poolrun.sbatch", ["pi", "--samples", "1e6"], ["-n", "1"],
                 dict(ENV, LIBPOOL_LAUNCHER="pbs"))
    j = wait_job(jid)
    assert j["ExitCode"] == "2:0" and "LIBPOOL_LAUNCHER must be" in log(d, f"poolrun-{jid}.out")
    # A bad option: exit 2 from poolrun, no file, and no second launch (exit 2 is an answer).
    jid = sbatch(d, "poolrun.sbatch", ["pi", "--samples", "many"], ["-n", "2"])
    j = wait_job(jid)
    assert j["ExitCode"] == "2:0", (j, log(d, f"poolrun-{jid}.out"))
    assert "launching again" not in log(d, f"poolrun-{jid}.out")
    assert not os.path.exists(os.path.join(d, f"pi-{jid}.h5"))


# POOLRUN for the launch tests: the first LIBPOOL_TEST_FAILING launches of a job die as Open
# MPI's start-up crash under load does (slurm/README.md): rank 0 has taken the output's lock,
# then segfaults (POOLRUN_TEST_POINT=lock_taken:SEGV); the count is kept in LIBPOOL_TEST_COUNT.
# The other ranks run poolrun as a child that Slurm's TERM kills at once: poolrun itself waits
# for the dead rank until KillWait (30 s) ends, which the test need not wait for.
FAILING_POOLRUN = """#!/bin/bash
if [ "$SLURM_PROCID" = 0 ]; then
  n=$(cat "$LIBPOOL_TEST_COUNT" 2>/dev/null || echo 0)
  echo $((n + 1)) >"$LIBPOOL_TEST_COUNT"
  [ "$n" -lt "$LIBPOOL_TEST_FAILING" ] && export POOLRUN_TEST_POINT=lock_taken:SEGV
  exec "$LIBPOOL_TEST_POOLRUN" "$@"
fi
"$LIBPOOL_TEST_POOLRUN" "$@" &
child=$!
trap 'kill -KILL $child' TERM
wait $child
wait $child
"""


def failing_launches(d, n, name, **extra):
    """The environment of a job whose first N launches die; and the file counting them."""
    wrapper = os.path.join(d, "failing-poolrun")
    with open(wrapper, "w") as f:
        f.write(FAILING_POOLRUN)
    os.chmod(wrapper, 0o755)
    count = os.path.join(d, f"{name}.launches")
    return dict(ENV, POOLRUN=wrapper, LIBPOOL_TEST_POOLRUN=POOLRUN, LIBPOOL_TEST_COUNT=count,
                LIBPOOL_TEST_FAILING=str(n), LIBPOOL_LAUNCHER="srun", **extra), count


def case_launch_retry(d):
    """A launch that dies before computing anything (rank 0 took the lock, then segfaulted) is
    launched again: the job completes, with the bits of a run outside Slurm, and leaves no lock.
    When every try dies the job fails with one line, and removes the lock its dead launch left,
    so that the next run of that output is not refused."""
    args = ["pi", "--samples", "3e6", "--chunksize", "3e5", "--seed", "9"]
    env, count = failing_launches(d, 1, "retried")
    jid = sbatch(d, "poolrun.sbatch", args, ["-N", "3", "-n", "3"], env)
    j = wait_job(jid)
    text = log(d, f"poolrun-{jid}.out")
    assert j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0", (j, text)
    assert open(count).read().strip() == "2", text
    out = os.path.join(d, f"pi-{jid}.h5")
    lock = out + ".lock"
    assert "task 0: Segmentation fault" in text, text
    assert f"removed {lock}, left by a launch of this job that died (pid " in text, text
    assert re.search(r"launch 1 of 3 failed before computing anything \(no output written, "
                     r"launcher exit 1\d\d\); launching again in 2 s", text), text
    assert "launch 2 of 3 on n[1-3]" in text and "giving up" not in text, text
    assert text.count("failed before computing anything") == 1, text
    complete(out, "pi")
    assert not os.path.exists(lock) and not os.path.exists(out + ".partial")
    local(d, [*args, "-o", "ref.h5"])
    same_results(out, os.path.join(d, "ref.h5"))

    # Every try dies: one line says so, the job fails (not requeued), no lock is left behind.
    out = os.path.join(d, "given-up.h5")
    env, count = failing_launches(d, 9, "given-up", LIBPOOL_LAUNCH_RETRIES="1")
    jid = sbatch(d, "poolrun.sbatch", [*args, "-o", out], ["-N", "2", "-n", "2"], env)
    j = wait_job(jid)
    text = log(d, f"poolrun-{jid}.out")
    assert j["JobState"] == "FAILED" and j["ExitCode"] == "1:0", (j, text)
    assert int(j["Restarts"]) == 0, j
    assert open(count).read().strip() == "2", text
    assert text.count("launching again") == 1, text
    lines = [ln for ln in text.splitlines() if "giving up" in ln]
    assert len(lines) == 1 and re.fullmatch(
        r"libpool: giving up: launch 2 of 2 failed before computing anything too \(no output "
        r"written, launcher exit 1\d\d\); LIBPOOL_LAUNCH_RETRIES=1", lines[0]), text
    assert text.count(f"removed {out}.lock") == 2, text
    assert not os.path.exists(out + ".lock") and libpool_existing(out) is None
    # The output is free: the next job writes it at once.
    jid = sbatch(d, "poolrun.sbatch", [*args, "-o", out], ["-N", "2", "-n", "2"])
    j = wait_job(jid)
    assert j["ExitCode"] == "0:0", log(d, f"poolrun-{jid}.out")
    complete(out, "pi")
    same_results(out, os.path.join(d, "ref.h5"))


def libpool_existing(out):
    for p in (out, out + ".partial"):
        if os.path.exists(p):
            return p
    return None


def proc_start(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def case_stale_lock(d):
    """The output's lock a dead launch of the same job left on another node (what a requeued
    job finds after its node died) is removed before the launch, which poolrun alone would
    refuse for 60 s; a lock of another job (or of the same job number on another cluster), or of
    this job whose pid still runs, is never removed: the launch is refused (exit 2), not
    retried, and the lock stays as it was."""
    args = ["pi", "--samples", "1e6", "--seed", "4"]
    ref = os.path.join(d, "ref.h5")
    local(d, [*args, "-o", ref])
    holder = int(open(os.path.join(STATE, "nodes", "n1.holder")).read())
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                            env=ENV, timeout=30).stdout
    cluster = re.search(r"^ClusterName\s*=\s*(\S+)", config, re.M)[1]
    cases = [
        ("own", lambda jid: f"n3 4000000 1 slurm_job={jid} slurm_cluster={cluster}\n"),
        ("other-job", lambda jid: f"n3 4000000 1 slurm_job={int(jid) + 1000} "
                                  f"slurm_cluster={cluster}\n"),
        # The same job number on another cluster (a file system two clusters share).
        ("other-cluster", lambda jid: f"n3 4000000 1 slurm_job={jid} slurm_cluster=x{cluster}\n"),
        ("own-alive", lambda jid: f"n1 {holder} {proc_start(holder)} slurm_job={jid} "
                                  f"slurm_cluster={cluster}\n"),
    ]
    for name, content in cases:
        out = os.path.join(d, f"{name}.h5")
        # Rank 0 and the batch shell on n1: the live holder above is on their node.
        jid = sbatch(d, "poolrun.sbatch", [*args, "-o", out],
                     ["-N", "2", "-n", "2", "-w", "n1,n2", "--hold"])
        lock = content(jid)
        with open(out + ".lock", "w") as f:
            f.write(lock)
        subprocess.run(["scontrol", "release", jid], env=ENV, check=True, timeout=30)
        j = wait_job(jid)
        text = log(d, f"poolrun-{jid}.out")
        assert "launching again" not in text, text
        if name == "own":
            assert j["ExitCode"] == "0:0", (j, text)
            assert f"removed {out}.lock, left by a launch of this job that died (pid 4000000 " \
                   "on n3)" in text, text
            assert not os.path.exists(out + ".lock")
            complete(out, "pi")
            same_results(out, ref)
        else:
            assert j["ExitCode"] == "2:0", (j, text)
            assert "being written by another run" in text and "removed" not in text, text
            assert open(out + ".lock").read() == lock
            assert libpool_existing(out) is None
            if name == "own-alive":
                assert f"its run (pid {holder} on n1) still runs; left in place" in text, text
            else:
                other = int(jid) + (1000 if name == "other-job" else 0)
                assert f"(n3, pid 4000000, Slurm job {other})" in text, text


def case_scaling(d):
    # An unknown workload is refused before anything is submitted.
    p = subprocess.run(["bash", os.path.join(SLURM, "scaling.sh"), "pj", "--samples", "2e7"],
                       capture_output=True, text=True, cwd=d, env=ENV, timeout=60)
    assert p.returncode == 2 and "'pj' is not a workload" in p.stderr, p.stderr
    p = subprocess.run(["bash", os.path.join(SLURM, "scaling.sh"), "--series", "1x1 1x2 2x2",
                        "pi", "--samples", "2e7", "--seed", "3"], capture_output=True, text=True,
                       cwd=d, env=ENV, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [ln.split() for ln in p.stdout.splitlines() if ln and ln.split()[0].isdigit()]
    assert [(r[0], r[2]) for r in lines] == [("1", "1"), ("1", "2"), ("2", "4")], p.stdout
    assert float(lines[0][4]) == 1.0 and float(lines[0][5]) == 1.0, p.stdout
    files = sorted(x for x in os.listdir(d) if x.endswith(".h5"))
    assert len(files) == 3
    ref = os.path.join(d, files[0])
    for x in files[1:]:
        same_results(os.path.join(d, x), ref)


def leftovers():
    found = [cmd for _, cmd in live_processes() if STATE + "/" in cmd]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [ln for ln in links.splitlines() if "lpv16917" in ln or "lpbr16917" in ln]
    return found


def case_stop(d):
    # A crashed cluster (controller and one node's holder killed) still stops completely.
    pid = int(open(os.path.join(STATE, "run", "slurmctld.pid")).read())
    os.kill(pid, signal.SIGKILL)
    os.kill(int(open(os.path.join(STATE, "nodes", "n1.holder")).read()), signal.SIGKILL)
    ns_pids = node_pids("n2")
    assert ns_pids, "n2 has no processes"
    cluster("stop")
    time.sleep(0.2)
    assert not leftovers(), leftovers()
    for p in ns_pids:
        assert not os.path.exists(f"/proc/{p}") or \
            open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert cluster("status", check=False).returncode == 3
    cluster("stop")  # idempotent


if __name__ == "__main__":
    case = sys.argv[5]
    if os.geteuid() != 0:
        print("slurm tests need root (network namespaces, slurmd)")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="slurm-e2e-", dir="/tmp") as tmp:
        globals()["case_" + case](tmp)
    print(f"{case}: ok")
