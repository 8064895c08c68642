"""End-to-end tests of poolreport: real poolrun outputs (complete, failed, partial, crashed,
resumed, seed, many chunks) read by the real poolreport binary, checked against h5py.

Usage: poolreport_e2e.py POOLREPORT POOLRUN MPIEXEC CASE CONFIGS_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import h5py
import numpy as np

from e2e_helpers import attr, wait_for_rows
from e2e_helpers import rank_pids as _rank_pids

POOLREPORT, POOLRUN, MPIEXEC = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
SVG = "{http://www.w3.org/2000/svg}"


def rank_pids(mpirun_pid):
    return _rank_pids(mpirun_pid, POOLRUN)


def poolrun(args, d, ranks=2, env=None, timeout=120):
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] + args
    return subprocess.run(cmd, capture_output=True, text=True, cwd=d, env=env or ENV,
                          timeout=timeout)


def start(args, d, ranks=2, delay_ms=300):
    env = dict(ENV, POOLRUN_TASK_DELAY_MS=str(delay_ms))
    cmd = [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] + args
    return subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)








def report(path, *args, rc=0):
    p = subprocess.run([POOLREPORT, path, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == rc, (p.returncode, p.stdout, p.stderr)
    return p




def shortest(f):
    return min(len(f["chunks"][c]) for c in f["chunks"])


def check(path, status, swmr=False):
    """Text, JSON and SVG of path against the file itself; returns (text, json)."""
    text = report(path).stdout
    j = json.loads(report(path, "--json").stdout)
    assert f"status:          {status}" in text, text
    assert j["status"] == status and j["swmr"] == swmr, (j["status"], j["swmr"])
    if swmr:
        assert "still writing or died" in text and "last flush" in text, text
    for section in ("result:", "per rank", "rank  host", "slowest chunks:", "failures:",
                    "resume history:", "throughput:", "identity:"):
        assert section in text, (section, text)
    real = path if os.path.exists(path) else path + ".partial"
    with h5py.File(real, "r", swmr=True) as f:
        n = shortest(f)
        c = {k: f["chunks"][k][:n] for k in ("begin", "end", "rank", "start_s", "end_s",
                                             "attempt")}
        st = f["chunks/status"].asstr()[:n]
        done = st == "done"
        assert j["workload"] == attr(f, "workload")
        assert j["created"] == attr(f, "created")
        assert j["command_line"] == attr(f, "command_line")
        assert j["libpool_version"] == attr(f, "libpool_version")
        assert j["rows"] == n
        assert j["chunks_done"] == int(done.sum())
        assert j["chunks_failed"] == int((~done).sum())
        assert j["items_done"] == int((c["end"][done] - c["begin"][done]).sum())
        last = int(c["attempt"].max()) if n else 1
        assert j["attempts"] == last
        mine = c["attempt"] == last
        items = int((c["end"][done & mine] - c["begin"][done & mine]).sum())
        assert j["last_attempt_items"] == items
        if status != "running":
            wall = float(f.attrs["wall_seconds"])
            assert j["wall_seconds"] == wall
            assert abs(j["throughput_items_per_s"] - items / wall) <= 1e-9 * items / wall
        # Per rank: the last attempt's rows.
        for row in j["per_rank"]:
            sel = mine & (c["rank"] == row["rank"])
            assert row["chunks"] == int(sel.sum()), row
            busy = float((c["end_s"][sel] - c["start_s"][sel]).sum())
            assert abs(row["busy_s"] - busy) <= 1e-9 * max(1.0, busy), (row, busy)
            assert f"  {row['rank']:4d}  " in text
        assert sum(r["chunks"] for r in j["per_rank"]) == int(mine.sum())
        # The slowest chunks, slowest first.
        d = c["end_s"] - c["start_s"]
        want = sorted(d, reverse=True)[:5]
        assert [s["seconds"] for s in j["slowest"]] == [float(x) for x in want]
        # Results: every scalar of /result and its groups.
        if "result" in f:
            def walk(g, jr):
                for k, v in g.items():
                    if isinstance(v, h5py.Group):
                        walk(v, jr[k])
                    elif v.shape == ():
                        x = v.asstr()[()] if v.dtype.kind in "SO" else v[()]
                        if isinstance(x, str):
                            assert jr[k] == x, (k, jr[k], x)
                            assert x in text
                        elif np.isfinite(x):
                            assert jr[k] == x.item(), (k, jr[k], x)
                    else:
                        assert k in jr
            walk(f["result"], j["result"])
        if "resumes" in f:
            assert [r["attempt"] for r in j["resumes"]] == list(f["resumes/attempt"][:])
            assert [r["chunks_kept"] for r in j["resumes"]] == list(f["resumes/chunks_kept"][:])
        if "error" in f:
            assert j["error"]["message"] == attr(f["error"], "message")
        else:
            assert j["error"] is None
    # The timeline: valid SVG, one box per chunk unless boxes merge under a pixel.
    svg = path + ".svg"
    report(path, "--timeline", svg)
    root = ET.parse(svg).getroot()
    assert root.tag == SVG + "svg"
    rects = [r for r in root.iter(SVG + "rect") if r.get("class") in ("chunk", "agg")]
    assert sum(int(r.get("data-n")) for r in rects) == n
    assert all(r.find(SVG + "title") is not None for r in rects)
    lanes = [t.text for t in root.iter(SVG + "text") if t.text and t.text.startswith("rank ")]
    assert len(lanes) == len(j["per_rank"]), lanes
    assert any(t.text == "seconds" for t in root.iter(SVG + "text"))
    return text, j, rects


def case_complete(d):
    p = poolrun(["pi", "--samples", "1e7", "--chunksize", "1e6", "--seed", "3", "-o", "pi.h5",
                 "-q"], d)
    assert p.returncode == 0, p.stderr
    text, j, rects = check(os.path.join(d, "pi.h5"), "complete")
    assert "pi = 3.1" in text, text
    assert j["result"]["samples"] == 10_000_000
    assert j["rows"] == 10 and len(rects) == 10
    assert all(r.get("class") == "chunk" for r in rects)
    assert "(never resumed)" in text
    # Missing and non-poolrun files: one line on stderr, exit 2.
    p = report(os.path.join(d, "nope.h5"), rc=2)
    assert p.stderr.count("\n") == 1 and "no such file" in p.stderr, p.stderr
    with open(os.path.join(d, "x.txt"), "w") as f:
        f.write("hello\n")
    p = report(os.path.join(d, "x.txt"), rc=2)
    assert p.stderr.count("\n") == 1, p.stderr
    with h5py.File(os.path.join(d, "plain.h5"), "w") as f:
        f["x"] = 1
    p = report(os.path.join(d, "plain.h5"), rc=2)
    assert p.stderr.count("\n") == 1 and "not a poolrun output" in p.stderr, p.stderr


def case_failed(d):
    p = poolrun(["powersum", "--exponent", "25", "--n", "10,35", "-o", "fail.h5"], d)
    assert p.returncode == 1, (p.returncode, p.stderr)
    text, j, _ = check(os.path.join(d, "fail.h5"), "failed")
    assert "2^128" in j["error"]["message"]
    assert j["chunks_failed"] >= 1 and j["chunks_done"] >= 1
    assert j["failures"] and "2^128" in text
    assert "failed chunk(s) on rank" in text


def interrupted(d, out):
    proc = start(["pi", "--samples", "1e9", "--chunksize", "1e7", "-o", out, "-q",
                  "--flush-interval", "0.2"], d)
    wait_for_rows(os.path.join(d, out + ".partial"), 1, proc)
    return proc


def case_partial(d):
    proc = interrupted(d, "p.h5")
    # While the run writes: read as a SWMR reader, status running, from either name.
    for name in ("p.h5", "p.h5.partial"):
        j = json.loads(report(os.path.join(d, name), "--json").stdout)
        assert j["status"] == "running" and j["swmr"] and j["rows"] >= 1, j
        assert j["file"].endswith("p.h5.partial") and j["last_flush"], j
    text = report(os.path.join(d, "p.h5")).stdout
    assert "the run is still writing or died; last flush" in text, text
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3, proc.returncode
    text, j, _ = check(os.path.join(d, "p.h5"), "partial")
    assert j["rows"] >= 1


def case_crashed(d):
    proc = interrupted(d, "c.h5")
    pids = rank_pids(proc.pid)
    assert len(pids) == 2, pids
    os.kill(pids[0], signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not os.path.exists(os.path.join(d, "c.h5"))
    # FILE.h5 is gone: poolreport reads FILE.h5.partial as a SWMR reader, given either name.
    text, j, _ = check(os.path.join(d, "c.h5"), "running", swmr=True)
    assert j["rows"] >= 1 and j["file"].endswith("c.h5.partial")
    text2, j2, _ = check(os.path.join(d, "c.h5.partial"), "running", swmr=True)
    assert j2["rows"] == j["rows"]
    # Resumed, it reports the history.
    p = poolrun(["pi", "--samples", "1e9", "--chunksize", "1e7", "-o", "c.h5", "-q",
                 "--resume"], d)
    assert p.returncode == 0, p.stderr
    text, j, _ = check(os.path.join(d, "c.h5"), "complete")
    assert len(j["resumes"]) == 1 and j["resumes"][0]["previous_status"] == "running"
    assert j["resumes"][0]["chunks_kept"] >= 1 and j["attempts"] == 2
    assert "attempt 2 at" in text and "previous status running" in text, text
    assert j["rows"] == 100


def case_seed(d):
    p = poolrun(["seed", "-o", "seed.h5", "-q"], d)
    assert p.returncode == 0, p.stderr
    text, j, rects = check(os.path.join(d, "seed.h5"), "complete")
    assert j["result"]["count_primes"]["count"] == 78498
    assert j["result"]["sum_cubes"]["total"] == "4997500416641667000"
    assert "sum_squares/" in text and "total = 4997500416641667000" in text
    # Colours by pass: the legend names each program.
    root = ET.parse(os.path.join(d, "seed.h5.svg")).getroot()
    legend = {t.text for t in root.iter(SVG + "text") if t.text and t.text.startswith("done: ")}
    assert legend == {"done: " + p for p in ("count_primes", "monte_carlo", "smallest_factor",
                                              "sum_cubes", "sum_squares")}, legend


def case_workloads(d):
    # Every workload's committed config: the report reads each file's results and ledger.
    configs = sys.argv[5]
    for wl in ("powersum", "primes", "pi", "factor", "seed", "datagen", "stats", "thumbnails"):
        p = poolrun([wl, "--config", os.path.join(configs, wl + ".toml"), "-o", wl + ".h5",
                     "-q"], d)
        assert p.returncode == 0, (wl, p.stderr)
        text, j, _ = check(os.path.join(d, wl + ".h5"), "complete")
        assert j["workload"] == wl and j["rows"] > 0, wl


def case_many_chunks(d):
    p = poolrun(["pi", "--samples", "1e7", "--chunksize", "100", "-o", "many.h5", "-q"], d,
                timeout=300)
    assert p.returncode == 0, p.stderr
    text, j, rects = check(os.path.join(d, "many.h5"), "complete")
    assert j["rows"] == 100_000
    assert any(r.get("class") == "agg" for r in rects)
    assert len(rects) < 10_000, len(rects)
    assert os.path.getsize(os.path.join(d, "many.h5.svg")) < 2_000_000


if __name__ == "__main__":
    case = sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="poolreport-e2e-") as tmp:
        globals()["case_" + case](tmp)
    print(f"{case}: ok")
