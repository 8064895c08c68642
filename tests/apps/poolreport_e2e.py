"""End-to-end tests of poolreport: real poolrun outputs (complete, failed, partial, crashed,
resumed, seed, many chunks) read by the real poolreport binary, checked against h5py.

Usage: poolreport_e2e.py POOLREPORT POOLRUN MPIEXEC CASE CONFIGS_DIR
"""
import json
import os
import pty
import select
import shutil
import struct
import zlib
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import h5py
import numpy as np

from e2e_helpers import attr, builtin_workloads, wait_for_rows
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
    for wl in builtin_workloads(POOLRUN, ENV):
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


def case_provenance(d):
    # Inputs: absolute path, size, mtime and the documented checksum; build and libraries.
    data = np.arange(2, 3_000_000, dtype=np.uint64)  # > 4 MiB: a sample of the file
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["n"] = data
    p = poolrun(["factor", "--input", "in.h5:/n", "--chunksize", "1e6", "-o", "f.h5", "-q"], d)
    assert p.returncode == 0, p.stderr
    raw = open(os.path.join(d, "in.h5"), "rb").read()
    mib, block = 1 << 20, 64 << 10
    span = len(raw) - 2 * mib - block
    sample = raw[:mib] + b"".join(raw[mib + span * k // 31:mib + span * k // 31 + block]
                                  for k in range(32)) + raw[-mib:]
    want = zlib.crc32(raw) if len(raw) <= 4 * mib else zlib.crc32(sample)
    st = os.stat(os.path.join(d, "in.h5"))
    with h5py.File(os.path.join(d, "f.h5"), "r") as f:
        a = {k: (attr(f, k) if k in f.attrs else None) for k in f.attrs}
        assert a["working_directory"] == os.path.realpath(d), a["working_directory"]
        assert [x.decode() if isinstance(x, bytes) else x for x in f.attrs["input_files"]] == \
            [os.path.join(os.path.realpath(d), "in.h5")]
        assert list(f.attrs["input_sizes"]) == [st.st_size]
        assert f.attrs["input_checksums"][0] in (f"crc32:{want:08x}", f"crc32:{want:08x}".encode())
        mtime = f.attrs["input_mtimes"][0]
        mtime = mtime.decode() if isinstance(mtime, bytes) else mtime
        assert mtime.endswith(f".{st.st_mtime_ns % 10**9:09d}Z"), mtime
        assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9)) in mtime
        commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                 "rev-parse", "HEAD"], capture_output=True, text=True)
        # The commit CMake saw: this checkout's (or an earlier one of it), or unknown outside git.
        assert a["build_git_commit"] == "unknown" or len(a["build_git_commit"]) == 40, a
        if commit.returncode != 0:
            assert a["build_git_commit"] == "unknown"
        assert a["build_git_dirty"] in ("yes", "no", "unknown")
        assert a["compiler"].startswith(("GCC ", "Clang ")), a["compiler"]
        assert ":" in a["compiler_flags"]
        assert a["hdf5_version"] == "%d.%d.%d" % h5py.h5.get_libversion()
        assert "Open MPI" in a["mpi_library"] or "MPICH" in a["mpi_library"], a["mpi_library"]
    text = report(os.path.join(d, "f.h5")).stdout
    j = json.loads(report(os.path.join(d, "f.h5"), "--json").stdout)
    assert j["provenance"]["working_directory"] == os.path.realpath(d)
    assert j["inputs"][0]["size"] == st.st_size and j["inputs"][0]["checksum"] == f"crc32:{want:08x}"
    assert f"crc32:{want:08x}" in text and "hdf5_version = " in text, text
    # A workload without input files records none.
    p = poolrun(["primes", "--to", "1e5", "-o", "p.h5", "-q"], d)
    assert p.returncode == 0, p.stderr
    with h5py.File(os.path.join(d, "p.h5"), "r") as f:
        assert "input_files" not in f.attrs and "mpi_library" in f.attrs


def case_config_roundtrip(d):
    # The stored config, printed by poolreport --config, reruns the run bit for bit, at
    # another rank count, without naming the workload on the command line.
    for wl, args in (("pi", ["--samples", "3e6", "--chunksize", "1e5", "--seed", "11"]),
                     ("powersum", ["--exponent", "3", "--n", "1000,2000", "--chunksize", "300"])):
        p = poolrun([wl, *args, "-o", "a.h5", "-q", "--force"], d)
        assert p.returncode == 0, p.stderr
        cfg = report(os.path.join(d, "a.h5"), "--config").stdout
        assert f'workload="{wl}"' in cfg.splitlines()[2:4], cfg
        with open(os.path.join(d, "run.toml"), "w") as f:
            f.write(cfg)
        p = poolrun(["--config", "run.toml", "-o", "b.h5", "-q", "--force"], d, ranks=3)
        assert p.returncode == 0, p.stderr
        with h5py.File(os.path.join(d, "a.h5")) as a, h5py.File(os.path.join(d, "b.h5")) as b:
            assert attr(b, "workload") == wl
            for k in a["result"]:
                x, y = np.asarray(a["result"][k][()]), np.asarray(b["result"][k][()])
                assert x.dtype == y.dtype and x.shape == y.shape, (wl, k)
                same = x.tolist() == y.tolist() if x.dtype.kind in "SOU" else \
                    x.tobytes() == y.tobytes()  # the same bits
                assert same, (wl, k, x, y)
            assert attr(a, "identity") == attr(b, "identity")
    # The file says pi, the command line says primes: one line, exit 2, nothing written.
    p = poolrun(["primes", "--config", "run.toml", "-o", "c.h5"], d)
    assert p.returncode == 2 and "powersum configuration" in p.stderr, (p.returncode, p.stderr)
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert not os.path.exists(os.path.join(d, "c.h5"))
    # A workload the file names that does not exist.
    with open(os.path.join(d, "bad.toml"), "w") as f:
        f.write('workload = "nope"\n')
    p = poolrun(["--config", "bad.toml"], d)
    assert p.returncode == 2 and "unknown workload 'nope'" in p.stderr, p.stderr
    # The same workload on both: fine.
    p = poolrun(["powersum", "--config", "run.toml", "-o", "d.h5", "-q"], d)
    assert p.returncode == 0, p.stderr
    # --dump-config without the required options: a commented template, exit 0.
    p = poolrun(["stats", "--dump-config"], d, ranks=1)
    assert p.returncode == 0, p.stderr
    assert 'workload="stats"' in p.stdout
    assert "# stats.input=FILE.h5:/DSET" in p.stdout and "(required)" in p.stdout, p.stdout
    p = poolrun(["--dump-config"], d, ranks=1)
    assert p.returncode == 0 and "Choose one" in p.stdout and "thumbnails" in p.stdout, p.stdout
    # Without --dump-config the missing option is still an error.
    p = poolrun(["stats"], d, ranks=1)
    assert p.returncode == 2 and "input is required" in p.stderr, p.stderr
    report(os.path.join(d, "nope.h5"), "--config", rc=2)


def follow_start(d, out, samples="4e7"):
    proc = start(["pi", "--samples", samples, "--chunksize", "1e6", "-o", out, "-q",
                  "--flush-interval", "0.2"], d, delay_ms=150)
    wait_for_rows(os.path.join(d, out + ".partial"), 1, proc)
    return proc


def case_follow_live(d):
    proc = follow_start(d, "live.h5")
    t0 = time.time()
    p = subprocess.run([POOLREPORT, os.path.join(d, "live.h5"), "--follow", "--interval", "0.2"],
                       capture_output=True, text=True, timeout=120)
    proc.communicate(timeout=60)
    assert proc.returncode == 0 and p.returncode == 0, (proc.returncode, p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    running = [l for l in lines if ": running" in l]
    # A pipe gets a line per interval while the run runs, with progress, rate, ETA, ranks.
    assert len(running) >= 3, lines
    assert any("ETA" in l and "items/s" in l and "ranks " in l for l in running), running
    pct = [float(l.split()[2].rstrip("%")) for l in running if "%" in l.split()[2]]
    assert pct == sorted(pct) and pct[-1] < 100, pct
    assert lines[-1].endswith("live.h5 is complete"), lines[-1]
    assert "100.0%  40000000/40000000" in lines[-2], lines[-2]
    assert "\x1b[" not in p.stdout
    assert time.time() - t0 < 60


def case_follow_killed(d):
    # rank 0 killed with -9: --follow (on a terminal here) says the writer is gone, exit 4.
    proc = follow_start(d, "k.h5", samples="1e9")
    master, slave = pty.openpty()
    fol = subprocess.Popen([POOLREPORT, os.path.join(d, "k.h5.partial"), "--follow",
                            "--interval", "0.2"], stdout=slave, stderr=slave)
    os.close(slave)
    out = b""

    def read_for(seconds):
        nonlocal out
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    return
    read_for(1.5)
    assert fol.poll() is None, out
    pids = rank_pids(proc.pid)
    os.kill(pids[0], signal.SIGKILL)
    proc.communicate(timeout=60)
    t0 = time.time()
    while fol.poll() is None and time.time() - t0 < 30:
        read_for(0.2)
    read_for(0.3)
    os.close(master)
    assert fol.returncode == 4, (fol.returncode, out)
    text = out.decode(errors="replace")
    assert "\x1b[" in text and "  rank " in text and "busy" in text, text  # a redrawn block
    assert "is gone" in text and "--resume" in text, text
    # Given a file no run writes: one line, exit 2.
    p = report(os.path.join(d, "none.h5"), "--follow", rc=2)
    assert p.stderr.count("\n") == 1, p.stderr


def png_pixels(path):
    """(width, height, [rows of RGB(A) bytes]) of an 8-bit non-interlaced PNG (stdlib only)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6), (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def case_svg_browser(d):
    chromium = shutil.which("chromium")
    if not chromium:
        if os.environ.get("CI"):
            raise AssertionError("chromium is required in CI (scripts/common.sh installs it)")
        print("SKIP: chromium is not installed (apt-get install chromium)")
        sys.exit(77)
    p = poolrun(["seed", "-o", "seed.h5", "-q"], d)
    assert p.returncode == 0, p.stderr
    svg = os.path.join(d, "seed.svg")
    report(os.path.join(d, "seed.h5"), "--timeline", svg)
    root = ET.parse(svg).getroot()  # valid XML
    with h5py.File(os.path.join(d, "seed.h5"), "r") as f:
        rows = shortest(f)
    boxes = [r for r in root.iter(SVG + "rect") if r.get("class") in ("chunk", "agg")]
    assert sum(int(r.get("data-n")) for r in boxes) == rows
    width, height = int(root.get("width")), int(root.get("height"))
    png = os.path.join(d, "seed.png")
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--screenshot={png}",
                        f"--window-size={width},{height}", "file://" + svg],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and os.path.exists(png), (r.returncode, r.stderr[-2000:])
    w, h, bpp, pix = png_pixels(png)
    assert (w, h) == (width, height), (w, h, width, height)
    # Not blank: the boxes' colours (the pass palette) are on screen, in the lanes' rows.
    palette = {(0x4e, 0x79, 0xa7), (0x59, 0xa1, 0x4f), (0xed, 0xc9, 0x48), (0xb0, 0x7a, 0xa1),
               (0x76, 0xb7, 0xb2)}
    coloured = 0
    nonwhite = 0
    for row in pix:
        for x in range(0, w * bpp, bpp):
            px = tuple(row[x:x + 3])
            nonwhite += px != (255, 255, 255)
            coloured += px in palette
    assert nonwhite > 0.02 * w * h, nonwhite
    assert coloured > 1000, coloured
    if os.environ.get("POOLREPORT_SCREENSHOT"):  # to look at it: the test keeps a copy there
        shutil.copy(png, os.environ["POOLREPORT_SCREENSHOT"])


# Every workload in every state poolreport must read: small runs with many chunks, slowed by
# POOLRUN_TASK_DELAY_MS so that a signal or a kill lands mid-run; failures injected with
# POOLRUN_TASK_FAIL_AFTER where real inputs cannot fail.
def workload_args(wl, d):
    if wl in ("factor", "stats", "thumbnails") and not os.path.exists(os.path.join(d, "in.h5")):
        with h5py.File(os.path.join(d, "in.h5"), "w") as f:
            f["n"] = np.arange(2, 402, dtype=np.uint64)
            # stats cuts ~4 MiB blocks: 40 of them, compressed to almost nothing on disk.
            f.create_dataset("x", data=np.zeros(40 << 20, np.uint8), chunks=(1 << 20,),
                             compression="gzip")
            f["img"] = np.arange(120 * 16 * 16, dtype=np.uint32).reshape(120, 16, 16).astype(
                np.uint8)
    if wl == "exec":
        with open(os.path.join(d, "tasks.txt"), "w") as t:
            t.write("".join(f"echo {k}\n" for k in range(40)))
    args = {"powersum": ["--exponent", "3", "--n", "40000", "--chunksize", "1000"],
            "primes": ["--to", "4e6", "--chunksize", "1e5"],
            "pi": ["--samples", "4e7", "--chunksize", "1e6"],
            "factor": ["--input", "in.h5:/n", "--chunksize", "10"],
            "seed": [],
            "datagen": ["--kind", "normal", "--shape", "40000", "--chunk", "1000",
                        "--chunksize", "1000"],
            "stats": ["in.h5:/x", "--chunksize", "1"],
            "thumbnails": ["in.h5:/img", "--size", "4x4", "--chunksize", "3"],
            "exec": ["--tasks", "tasks.txt"]}
    assert wl in args, f"{wl}: no arguments for its small runs in workload_args"
    return args[wl]


def states(d, wl):
    args = workload_args(wl, d)
    # failed: the second task on each rank raises; exit 1, /error, failed rows.
    # One rank started without mpirun (MPI's singleton mode): mpirun takes 1-2 s more to end a
    # job whose ranks exit non-zero; the failure path on the master is the same.
    env = dict(ENV, POOLRUN_TASK_FAIL_AFTER="1")
    p = subprocess.run([POOLRUN, wl, *args, "-o", "failed.h5", "-q"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, (wl, p.returncode, p.stderr)
    _, j, _ = check(os.path.join(d, "failed.h5"), "failed")
    assert j["chunks_failed"] >= 1 and "on purpose" in j["error"]["message"], (wl, j["error"])
    assert j["failures"] and j["failures"][0]["count"] >= 1
    # partial: SIGTERM to rank 0 (exit 3); the report's rows are the file's.
    proc = start([wl, *args, "-o", "partial.h5", "-q", "--flush-interval", "0.1"], d,
                 delay_ms=150)
    wait_for_rows(os.path.join(d, "partial.h5.partial"), 1, proc)
    os.kill(rank_pids(proc.pid)[0], signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 3, (wl, proc.returncode)
    _, j, _ = check(os.path.join(d, "partial.h5"), "partial")
    assert j["rows"] >= 1 and j["error"] is None, wl
    # crashed: rank 0 killed with -9; FILE.h5.partial read as a SWMR reader.
    proc = start([wl, *args, "-o", "crashed.h5", "-q", "--flush-interval", "0.1"], d,
                 delay_ms=150)
    wait_for_rows(os.path.join(d, "crashed.h5.partial"), 1, proc)
    os.kill(rank_pids(proc.pid)[0], signal.SIGKILL)
    proc.communicate(timeout=60)
    _, j, _ = check(os.path.join(d, "crashed.h5"), "running", swmr=True)
    assert j["rows"] >= 1 and j["workload"] == wl, wl


def case_crash_windows(d):
    # Rank 0 killed (POOLRUN_TEST_POINT=POINT:KILL) where the file is open for writing without
    # SWMR: as the end of a run reopens it, and as a --resume opens it. poolreport still reads
    # it and --resume finishes it with a clean run's bits (they refused it: "not already open for
    # SWMR writing"; h5py needs `h5clear -s` first, docs/output.md).
    args = ["pi", "--samples", "4e7", "--chunksize", "1e6", "--seed", "8", "-q",
            "--flush-interval", "0.1"]
    assert poolrun(args + ["-o", "clean.h5"], d).returncode == 0

    def killed(extra, point):
        p = poolrun(args + extra, d, env=dict(ENV, POOLRUN_TEST_POINT=point + ":KILL"))
        assert p.returncode != 0, (point, p.stdout, p.stderr)

    killed(["-o", "end.h5"], "ledger_reopened")
    assert not os.path.exists(os.path.join(d, "end.h5"))
    j = json.loads(report(os.path.join(d, "end.h5"), "--json").stdout)
    assert j["status"] == "running" and j["rows"] == 40, (j["status"], j["rows"])
    proc = start(args + ["-o", "res.h5"], d, delay_ms=100)
    wait_for_rows(os.path.join(d, "res.h5.partial"), 2, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    killed(["-o", "res.h5", "--resume"], "resume_opened")
    j = json.loads(report(os.path.join(d, "res.h5"), "--json").stdout)
    assert j["status"] == "running" and j["rows"] >= 2, (j["status"], j["rows"])
    for out in ("end.h5", "res.h5"):
        p = poolrun(args + ["-o", out, "--resume"], d)
        assert p.returncode == 0, (out, p.stderr)
        with h5py.File(os.path.join(d, out)) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
            assert attr(f, "status") == "complete", out
            assert f["result/pi"][()] == c["result/pi"][()], out


def case_damaged_files(d):
    # A .partial cut in half or with flipped bits (a crash on a bad disk, a copy gone wrong):
    # poolreport and --resume end quickly with one line (exit 2), or read what is intact; they
    # used to sleep for minutes in HDF5's metadata retries, or hang every rank.
    import random
    args = ["pi", "--samples", "4e7", "--chunksize", "1e6", "--seed", "8", "-q",
            "--flush-interval", "0.1"]
    proc = start(args + ["-o", "src.h5"], d, delay_ms=50)
    wait_for_rows(os.path.join(d, "src.h5.partial"), 10, proc)
    os.kill(rank_pids(proc.pid)[0], signal.SIGKILL)
    proc.communicate(timeout=60)
    raw = open(os.path.join(d, "src.h5.partial"), "rb").read()
    damaged = {"half": raw[: len(raw) // 2]}
    rng = random.Random(5)
    for k in range(4):
        b = bytearray(raw)
        for _ in range(50):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        damaged[f"flips{k}"] = bytes(b)
    for name, data in damaged.items():
        for tool in ("report", "resume"):
            out = f"{name}_{tool}.h5"
            with open(os.path.join(d, out + ".partial"), "wb") as f:
                f.write(data)
            cmd = ([POOLREPORT, out] if tool == "report" else
                   [MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, *args, "-o", out,
                    "--resume"])
            t0 = time.monotonic()
            p = subprocess.run(cmd, cwd=d, env=ENV, capture_output=True, text=True, timeout=90)
            took = time.monotonic() - t0
            assert took < 30, (name, tool, took)
            if name == "half":
                assert p.returncode == 2, (name, tool, p.returncode, p.stderr)
            if p.returncode != 0:
                lines = p.stderr.strip().splitlines()
                assert p.returncode == 2 and len(lines) == 1, (name, tool, p.returncode,
                                                               p.stderr)
                assert lines[0].startswith(("poolrun: error: ", "poolreport: ")), lines


def states_case(wl):
    return lambda d: states(d, wl)


if __name__ == "__main__":
    case = sys.argv[4]
    if case.startswith("states_"):  # one for each workload of poolrun's table (CMake reads it)
        globals()["case_" + case] = states_case(case[len("states_"):])
    with tempfile.TemporaryDirectory(prefix="poolreport-e2e-") as tmp:
        globals()["case_" + case](os.path.realpath(tmp))
    print(f"{case}: ok")
