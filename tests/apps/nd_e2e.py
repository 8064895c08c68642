"""End-to-end tests of poolrun on N-D data, inputs too large for memory and a full disk: the real
binary under mpirun, the real .h5 files read with h5py.

Usage: nd_e2e.py POOLRUN MPIEXEC CASE
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from e2e_helpers import attr, rank_pids, wait_for_rows

POOLRUN, MPIEXEC = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def mpirun(ranks):
    return [MPIEXEC, "-q", "-n", str(ranks), "--oversubscribe", POOLRUN] if ranks else [POOLRUN]


def poolrun(args, ranks=2, cwd=None, timeout=120, env=None):
    return subprocess.run(mpirun(ranks) + args, capture_output=True, text=True, cwd=cwd,
                          env=env or ENV, timeout=timeout)


def ok(args, ranks=2, cwd=None):
    p = poolrun(args, ranks, cwd)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def one_line(p, code):
    lines = p.stderr.splitlines()
    assert p.returncode == code, (p.returncode, p.stderr)
    assert len(lines) == 1 and lines[0].startswith("poolrun: error: "), p.stderr
    assert "bad_alloc" not in lines[0], lines[0]
    return lines[0]


def case_gzip_on_workers(d):
    """--gzip: the workers deflate whole HDF5 chunks and the master stores them as they are.
    Every dtype (uint8 has nothing to shuffle), an edge chunk, unaligned guided spans (sent back
    raw and filtered by HDF5) and 1-3 ranks must read back in h5py as the uncompressed data."""
    runs = [("normal", "float64", "50_000", ["--chunk", "777"]),
            ("uniform", "float32", "300x41", ["--chunk", "7"]),
            ("integer", "int32", "20_001", []),
            ("integer", "int64", "9999", ["--chunk", "1000"]),
            ("image", "uint8", "13x20x30x3", ["--chunk", "2"])]
    for i, (kind, dtype, shape, extra) in enumerate(runs):
        base = ["datagen", "--kind", kind, "--dtype", dtype, "--shape", shape, "--seed", "5",
                "-q"] + extra
        ok(base + ["-o", f"plain{i}.h5:/x"], ranks=1, cwd=d)
        with h5py.File(os.path.join(d, f"plain{i}.h5")) as f:
            want = f["x"][()]
        for ranks, sched in ((1, []), (2, []), (3, ["--schedule", "guided", "--chunksize", "1"])):
            out = f"gz{i}_{ranks}.h5"
            ok(base + ["--gzip", "6", "-o", out + ":/x"] + sched, ranks=ranks, cwd=d)
            with h5py.File(os.path.join(d, out)) as f:
                x = f["x"]
                assert attr(f, "status") == "complete"
                assert x.compression == "gzip" and x.compression_opts == 6 and x.shuffle
                got = x[()]
                assert got.dtype == want.dtype and got.shape == want.shape
                assert got.tobytes() == want.tobytes(), (kind, dtype, ranks, sched)
                # Stored deflated: smaller than the raw bytes (structured data compresses).
                if kind in ("image", "integer"):
                    assert x.id.get_storage_size() < got.nbytes, (kind, x.id.get_storage_size())
                # Each stored chunk inflates by itself (zlib stream, shuffle then deflate).
                info = x.id.get_chunk_info(0)
                assert info.filter_mask == 0, info


def case_gzip_resume(d):
    """An interrupted --gzip run resumed at another rank count and schedule (so chunks come
    back both deflated and raw) holds the bytes of an uncompressed clean run."""
    import signal
    base = ["datagen", "--kind", "uniform", "--shape", "3e6", "--chunk", "50000", "--seed", "3",
            "-q"]
    ok(base + ["-o", "clean.h5:/x"], ranks=1, cwd=d)
    env = dict(ENV, POOLRUN_TASK_DELAY_MS="150")
    proc = subprocess.Popen(mpirun(2) + base + ["--gzip", "1", "--chunksize", "50000",
                                                "--flush-interval", "0.2", "-o", "gz.h5:/x"],
                            cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_rows(os.path.join(d, "gz.h5.partial"), 3, proc)
    proc.send_signal(signal.SIGUSR1)
    proc.communicate(timeout=60)
    assert proc.returncode == 3, proc.returncode
    ok(base + ["--gzip", "1", "--resume", "--schedule", "guided", "-o", "gz.h5:/x"], ranks=3,
       cwd=d)
    with h5py.File(os.path.join(d, "gz.h5")) as f, h5py.File(os.path.join(d, "clean.h5")) as c:
        assert attr(f, "status") == "complete"
        assert 2 in set(int(a) for a in f["chunks/attempt"][:])
        assert f["x"].compression == "gzip"
        assert f["x"][()].tobytes() == c["x"][()].tobytes()


def philox4x32_10(ctr, key):
    """Random123's Philox4x32-10 in plain Python (as in poolrun_e2e.py)."""
    c, k = list(ctr), list(key)
    for rnd in range(10):
        if rnd:
            k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


def image_values(seed, shape):
    """datagen's image kind, element by element, from the formulas in datagen.cpp."""
    import math
    n_img, h, w, c = shape
    key = [seed & 0xFFFFFFFF, seed >> 32]
    u32 = lambda v: v * 2.0 ** -32
    out = []
    for n in range(n_img):
        a = philox4x32_10([n & 0xFFFFFFFF, n >> 32, 1, 0], key)
        b = philox4x32_10([n & 0xFFFFFFFF, n >> 32, 2, 0], key)
        angle = 2 * math.pi * u32(a[0])
        gx, gy = 0.3 * math.cos(angle), 0.3 * math.sin(angle)
        cx, cy = u32(a[1]) * w, u32(a[2]) * h
        r = (0.1 + 0.2 * u32(a[3])) * min(h, w)
        x0, y0 = u32(b[0]) * w * 0.7, u32(b[1]) * h * 0.7
        x1, y1 = x0 + (0.1 + 0.2 * u32(b[2])) * w, y0 + (0.1 + 0.2 * u32(b[3])) * h
        for yi in range(h):
            for xi in range(w):
                for ch in range(c):
                    i = ((n * h + yi) * w + xi) * c + ch
                    y, x = yi + 0.5, xi + 0.5
                    val = 0.5 + gx * (x / w - 0.5) + gy * (y / h - 0.5)
                    if (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r:
                        val = 0.85 - 0.1 * ch
                    if x0 <= x < x1 and y0 <= y < y1:
                        val = 0.1 + 0.1 * ch
                    q = i // 4  # one block's four words serve four elements
                    word = philox4x32_10([q & 0xFFFFFFFF, q >> 32, 0, 0], key)[i % 4]
                    val += 0.04 * (u32(word) - 0.5)
                    out.append(min(max(val, 0.0), 1.0))
    return out


def case_image_formula(d):
    """The image kind's values are the documented formulas (uint8: round half away from zero
    of 255 v; float32: v rounded), whichever row a chunk starts in."""
    shape = (3, 9, 14, 3)
    want = image_values(5, shape)
    for dtype, extra in (("uint8", ["--chunk", "1"]), ("float32", ["--chunk", "2"])):
        ok(["datagen", "--kind", "image", "--dtype", dtype, "--shape", "3x9x14x3", "--seed", "5",
            "--chunksize", "100", "-o", f"im_{dtype}.h5:/x", "-q"] + extra, ranks=3, cwd=d)
        with h5py.File(os.path.join(d, f"im_{dtype}.h5")) as f:
            got = f["x"][()].ravel()
        if dtype == "uint8":
            ref = np.array([int(v * 255 + 0.5) for v in want], dtype=np.uint8)
            assert np.array_equal(got, ref), np.flatnonzero(got != ref)[:5]
        else:
            ref = np.array(want, dtype=np.float64).astype(np.float32)
            assert got.tobytes() == ref.tobytes(), np.flatnonzero(got != ref)[:5]
    # A file of the older noise stream (its identity has no image_stream) is never resumed with
    # this one: the values would mix two streams.
    import shutil
    shutil.copy(os.path.join(d, "im_uint8.h5"), os.path.join(d, "old.h5"))
    with h5py.File(os.path.join(d, "old.h5"), "r+") as f:
        ident = attr(f, "identity")
        assert "image_stream=2\n" in ident, ident
        f.attrs["identity"] = ident.replace("image_stream=2\n", "")
    line = one_line(poolrun(["datagen", "--kind", "image", "--dtype", "uint8", "--shape",
                             "3x9x14x3", "--seed", "5", "--chunk", "1", "--resume", "-o",
                             "old.h5:/x", "-q"], ranks=1, cwd=d), 2)
    assert "without image_stream" in line, line


def case_nd_slabs(d):
    """Slabs are read and written shaped like themselves: stats of a 4-D dataset gives the bits
    of the same bytes as 1-D (the reduction is over the flat order), at 1 and 3 ranks;
    thumbnails of a 4-D stack equal numpy's block means."""
    ok(["datagen", "--kind", "normal", "--dtype", "float32", "--shape", "60x16x16x3",
        "-o", "nd.h5:/x", "-q"], cwd=d)
    ok(["datagen", "--kind", "normal", "--dtype", "float32", "--shape", str(60 * 16 * 16 * 3),
        "-o", "flat.h5:/x", "-q"], cwd=d)
    with h5py.File(os.path.join(d, "nd.h5")) as f, h5py.File(os.path.join(d, "flat.h5")) as g:
        assert f["x"][()].tobytes() == g["x"][()].tobytes()
    for ranks in (1, 3):
        ok(["stats", "nd.h5:/x", "-o", f"snd{ranks}.h5", "-q", "--bins", "7"], ranks, cwd=d)
        ok(["stats", "flat.h5:/x", "-o", f"sflat{ranks}.h5", "-q", "--bins", "7"], ranks, cwd=d)
        with h5py.File(os.path.join(d, f"snd{ranks}.h5")) as a, \
                h5py.File(os.path.join(d, f"sflat{ranks}.h5")) as b:
            for k in ("count", "mean", "variance", "min", "max", "histogram"):
                assert a["result"][k][()].tobytes() == b["result"][k][()].tobytes(), k
            x = h5py.File(os.path.join(d, "nd.h5"))["x"][()].astype(np.float64)
            assert abs(a["result/mean"][()] - x.mean()) < 1e-12
    # Thumbnails through N-D slabs, 2 ranks, a chunk size that cuts the stack unevenly.
    ok(["datagen", "--kind", "image", "--shape", "23x48x32x3", "-o", "img.h5:/i", "-q"], cwd=d)
    ok(["thumbnails", "img.h5:/i", "--size", "8x12", "--chunksize", "4", "-o", "t.h5", "-q"],
       ranks=2, cwd=d)
    with h5py.File(os.path.join(d, "img.h5")) as f, h5py.File(os.path.join(d, "t.h5")) as g:
        x = f["i"][()].astype(np.float64)
        want = np.rint(x.reshape(23, 12, 4, 8, 4, 3).mean(axis=(2, 4))).astype(np.uint8)
        assert np.array_equal(g["result/thumbnails"][()], want)


def case_huge_inputs(d):
    """Inputs that cannot fit in memory are refused before the pool starts: exit 2, one line,
    no output, and no std::bad_alloc. The files are chunked datasets with no chunk written."""
    with h5py.File(os.path.join(d, "big.h5"), "w") as f:
        f.create_dataset("x", shape=(2, 2 ** 40), dtype="f8", chunks=(1, 2 ** 20))
        f.create_dataset("img", shape=(2, 2 ** 20, 2 ** 20), dtype="u1", chunks=(1, 1024, 1024))
        # Every block fits, but not the master's list of 2^40 blocks' moments.
        f.create_dataset("tall", shape=(2 ** 62, 1), dtype="u1", chunks=(1, 1))
    assert os.path.getsize(os.path.join(d, "big.h5")) < 1 << 20
    for args, words in [(["stats", "big.h5:/x"], "does not fit"),
                        (["stats", "big.h5:/tall"], "reduction blocks"),
                        (["stats", "big.h5:/x", "--bins", "10"], "does not fit"),
                        (["thumbnails", "big.h5:/img", "--size", "64x64"], "does not fit"),
                        (["thumbnails", "big.h5:/img", "--size", "1048576x1048576"],
                         "does not fit")]:
        for ranks in (0, 2):
            p = poolrun(args + ["-o", "out.h5"], ranks, cwd=d)
            line = one_line(p, 2)
            assert "big.h5" in line and words in line, line
            assert not os.path.exists(os.path.join(d, "out.h5"))
            assert not os.path.exists(os.path.join(d, "out.h5.partial"))
    # What a task would return in one message of 2 GiB or more (or what does not fit in memory
    # on a smaller node): refused up front too, not failed mid-run.
    with h5py.File(os.path.join(d, "wide.h5"), "w") as f:
        f.create_dataset("img", shape=(2, 50000, 50000), dtype="u1", chunks=(1, 1000, 1000))
    for args in (["datagen", "--shape", "2x500000000", "-o", "out.h5"],
                 ["thumbnails", "wide.h5:/img", "--size", "50000x50000", "-o", "out.h5"]):
        p = poolrun(args, 2, cwd=d)
        line = one_line(p, 2)
        assert "2 GiB" in line or "does not fit" in line, line
        assert not os.path.exists(os.path.join(d, "out.h5"))
        assert not os.path.exists(os.path.join(d, "out.h5.partial"))


def case_out_of_memory(d):
    """Memory running out mid-run (here: an address-space limit below a 2 GiB block that passes
    the up-front check) fails the run like a task error: exit 1, one line, status failed."""
    import resource
    with h5py.File(os.path.join(d, "mid.h5"), "w") as f:
        f.create_dataset("x", shape=(2, 2 ** 28), dtype="f8", chunks=(1, 2 ** 20))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, 1500 << 20))
    p = subprocess.run([POOLRUN, "stats", "mid.h5:/x", "-o", "out.h5"], capture_output=True,
                       text=True, cwd=d, env=ENV, timeout=120, preexec_fn=limit)
    lines = p.stderr.splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "bad_alloc" in lines[0], p.stderr
    assert "std::bad_alloc: out of memory" in lines[0], lines[0]
    with h5py.File(os.path.join(d, "out.h5")) as f:
        assert attr(f, "status") == "failed"
        assert "bad_alloc" in attr(f["error"], "message")


def case_full_disk(d):
    """A full disk mid-run: exit 1, one line naming the output, no crash (no signal exit), and
    what is left is a readable HDF5 file that does not claim to be complete. The output lives on
    a 2 MiB tmpfs in a private mount namespace (root only)."""
    if os.geteuid() != 0:
        print("full_disk: skipped: mounting a small tmpfs needs root")
        return
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    # 16k: the disk is full before the first flush (this crashed in HDF5's exit handler).
    for ranks, size, args in [
            (2, "2m", ["datagen", "--shape", "4e6"]),
            (1, "2m", ["datagen", "--shape", "4e6", "--gzip", "1", "--kind", "uniform"]),
            (2, "2m", ["datagen", "--kind", "image", "--shape", "200x64x64x3"]),
            (2, "2m", ["datagen", "--kind", "image", "--shape", "200x64x64x3", "--debug"]),
            (2, "16k", ["datagen", "--shape", "2e5"])]:
        cmd = " ".join(mpirun(ranks) + args + ["-q", "-o", f"{mnt}/out.h5:/x"])
        # Whatever is left is copied out before the namespace (and its tmpfs) goes away.
        script = (f"mount -t tmpfs -o size={size} tmpfs {mnt} || exit 99; {cmd}; rc=$?; "
                  f"cp -a {mnt}/. {d}/left/ 2>/dev/null; exit $rc")
        os.makedirs(os.path.join(d, "left"), exist_ok=True)
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, env=ENV, timeout=120)
        if p.returncode == 99:
            print("full_disk: skipped: cannot mount a tmpfs here:", p.stderr.strip())
            return
        line = one_line(p, 1)
        assert "out.h5" in line and "No space left on device" in line, line
        left = [n for n in os.listdir(os.path.join(d, "left")) if n.endswith((".h5", ".partial"))]
        assert left, os.listdir(os.path.join(d, "left"))
        for name in left:
            path = os.path.join(d, "left", name)
            try:
                with h5py.File(path, "r", swmr=True) as f:
                    status = attr(f, "status")
                    assert status in ("failed", "running"), status
            except OSError:
                # Not even the superblock could be written back: it must not claim a final name.
                assert name.endswith(".partial"), name
        if args == ["datagen", "--shape", "4e6"]:
            # With space again, --resume finishes it with the bits of a clean run.
            os.makedirs(os.path.join(d, "more"))
            os.rename(os.path.join(d, "left", "out.h5.partial"),
                      os.path.join(d, "more", "out.h5.partial"))
            ok(args + ["-q", "-o", "more/out.h5:/x", "--resume"], cwd=d)
            ok(args + ["-q", "-o", "clean.h5:/x"], cwd=d)
            with h5py.File(os.path.join(d, "more", "out.h5")) as f, \
                    h5py.File(os.path.join(d, "clean.h5")) as c:
                assert attr(f, "status") == "complete"
                assert f["x"][()].tobytes() == c["x"][()].tobytes()
        for name in os.listdir(os.path.join(d, "left")):
            os.remove(os.path.join(d, "left", name))


def case_full_disk_resume(d):
    """A full disk during --resume: the resume fails with exit 1 and one line naming the reason,
    and once there is room again the next --resume (no --force, no h5clear) finishes the file
    with the bits of a clean run. Four places for the disk to fill up: as the resume opens the
    file (blocks of it left out, sparse, need room first), before it wrote anything, half way
    (it got some chunks into the ledger first) and at the very end (every chunk in the ledger,
    the run's end - /workers, the status - does not fit). The file lives on an 8 MiB tmpfs in a
    private mount namespace (root only): this process runs the case again inside one."""
    if os.geteuid() != 0:
        print("full_disk_resume: skipped: mounting a small tmpfs needs root")
        return
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        os.path.abspath(__file__), POOLRUN, MPIEXEC, "full_disk_resume_mounted",
                        d], capture_output=True, text=True, timeout=170)
    print(p.stdout, end="")
    if p.returncode == 77:
        print("full_disk_resume: skipped: cannot mount a tmpfs here")
        return
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"


def case_full_disk_resume_mounted(d):
    import shutil
    import time
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]).returncode != 0:
        sys.exit(77)
    base = ["datagen", "--shape", "4e5", "--chunk", "10000", "--chunksize", "10000", "-q"]
    chunks = 40
    ok(base + ["-o", "clean.h5:/x"], cwd=d)
    with h5py.File(os.path.join(d, "clean.h5")) as f:
        want = f["x"][()].tobytes()
    # What the resumes continue: a run whose rank 0 was killed (SIGKILL) after 10 chunks or more,
    # as its last flush left it: FILE.h5.partial, running, an empty /workers (the run's end, which
    # replaces it, then needs room of its own).
    import signal
    proc = subprocess.Popen(mpirun(1) + base + ["-o", "first.h5:/x", "--flush-interval", "0.01"],
                            cwd=d, env=dict(ENV, POOLRUN_TASK_DELAY_MS="40"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_rows(os.path.join(d, "first.h5.partial"), 10, proc)
    os.kill(rank_pids(proc.pid, POOLRUN)[0], signal.SIGKILL)
    proc.communicate(timeout=60)
    with h5py.File(os.path.join(d, "first.h5.partial"), "r", swmr=True) as f:
        assert attr(f, "status") == "running"
        kept = int(np.sum(f["chunks/status"][:] == b"done"))
        assert len(f["workers/rank"]) == 0
    assert 10 <= kept < chunks - 10, kept
    out = os.path.join(mnt, "out.h5")
    left = out + ".partial"
    filler = os.path.join(mnt, "filler")

    def fill(room=0):
        """Takes the tmpfs's free space but `room` bytes."""
        st = os.statvfs(mnt)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        os.posix_fallocate(fd, os.fstat(fd).st_size, st.f_bavail * st.f_frsize - room)
        os.close(fd)

    def resumed_rows():
        """Chunks done by the first resume in the ledger of the file it writes, -1 when it is
        not open for SWMR writing (the run is opening it or ending)."""
        try:
            with h5py.File(left, "r", swmr=True) as f:
                status, attempt = f["chunks/status"][:], f["chunks/attempt"][:]
            n = min(len(status), len(attempt))  # columns grow one after the other
            return int(np.sum((status[:n] == b"done") & (attempt[:n] == 2)))
        except (OSError, KeyError):
            return -1

    # Slow tasks and a flush after each: the resume's chunks reach the ledger one by one.
    resume = base + ["-o", out + ":/x", "--resume", "--flush-interval", "0.01"]
    for where in ("as it opens", "before", "half way", "at the end"):
        for n in os.listdir(mnt):
            os.remove(os.path.join(mnt, n))
        if where == "as it opens":
            # Blocks of zeros (the unused ends of the ledger's HDF5 chunks) left out: space that
            # HDF5 claimed long ago and must be there before the resume may write.
            subprocess.run(["cp", "--sparse=always", os.path.join(d, "first.h5.partial"), left],
                           check=True)
            assert os.stat(left).st_blocks * 512 < os.path.getsize(left), "no holes"
        else:
            shutil.copy(os.path.join(d, "first.h5.partial"), left)
        env = dict(ENV, POOLRUN_TASK_DELAY_MS="40")
        if where in ("as it opens", "before"):
            fill(os.sysconf("SC_PAGE_SIZE"))  # room for the lock file, not one byte more
        elif where == "at the end":
            # The run's end waits a second once it reopened the file for its last writes.
            env["POOLRUN_TEST_POINT"] = "ledger_reopened:1"
        proc = subprocess.Popen(mpirun(2) + resume, cwd=d, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if where in ("half way", "at the end"):
            # Half way: once the resume has 5 chunks in the ledger. At the end: once it has them
            # all, or has left SWMR writing after it wrote some (only the run's end does that).
            target = 5 if where == "half way" else chunks - kept
            t0, seen = time.time(), 0
            while True:
                rows = resumed_rows()
                seen = max(seen, rows)
                if rows >= target or (where == "at the end" and rows == -1 and seen > 0):
                    break
                assert proc.poll() is None, (where, rows, proc.communicate())
                assert time.time() - t0 < 60, (where, rows)
                time.sleep(0.01)
            fill()
        stdout, stderr = proc.communicate(timeout=120)
        line = one_line(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr),
                        1)
        assert "No space left on device" in line and "out.h5" in line, (where, line)
        assert not os.path.exists(out) and os.path.exists(left), (where, os.listdir(mnt))
        # What is left is what a crash at that moment leaves: a SWMR reader opens it, or where
        # the file was open without SWMR (the resume opening it, the run's end) a reader after
        # `h5clear -s` (of a copy). It holds the first run's rows, and claims nothing more.
        try:
            f = h5py.File(left, "r", swmr=True)
        except OSError:
            assert where != "half way", where
            shutil.copy(left, os.path.join(d, "left.h5"))
            subprocess.run(["h5clear", "-s", os.path.join(d, "left.h5")], check=True)
            f = h5py.File(os.path.join(d, "left.h5"))
        with f:
            assert attr(f, "status") in ("running", "failed"), (where, attr(f, "status"))
            done = f["chunks/status"][:] == b"done"
            attempts = f["chunks/attempt"][:][done]
            assert int(np.sum(attempts == 1)) == kept, where
            got = int(np.sum(attempts == 2))
        if where in ("as it opens", "before"):
            assert got == 0, got
        elif where == "half way":
            assert 5 <= got < chunks - kept, got
        else:
            assert got == chunks - kept, got
        # Room again: the next --resume finishes it, as it is.
        os.remove(filler)
        ok(resume, cwd=d)
        with h5py.File(out) as f:
            assert attr(f, "status") == "complete", where
            assert f["x"][()].tobytes() == want, where
            done = f["chunks/status"][:] == b"done"
            assert int(np.sum(done)) == chunks, where
            attempts = f["chunks/attempt"][:][done]
            assert int(np.sum(attempts == 1)) == kept, where
            # The failed resume's chunks are kept (as it opened the file or before it wrote: it
            # recorded nothing, not even its attempt, and this resume is attempt 2).
            if got:
                assert int(np.sum(attempts == 2)) == got, where
            # The run's own tables hold what it wrote (they were written, not merely claimed).
            assert all(h for h in f["workers/host"][:]), where
            assert int(np.sum(f["workers/chunks"][:])) == chunks - kept - got, where
        print(f"full_disk_resume: {where}: {got} chunk(s) of the failed resume kept; {line}")

if __name__ == "__main__":
    case = sys.argv[3]
    if len(sys.argv) > 4:  # a case's part that runs elsewhere (another namespace), in its folder
        globals()["case_" + case](sys.argv[4])
        sys.exit(0)
    with tempfile.TemporaryDirectory(prefix="poolrun-nd-") as tmp:
        globals()["case_" + case](tmp)
    print(f"{case}: ok")
