"""docs/workloads.md, run as a reader runs it: every command of its ```sh blocks, in the page's
order, in an empty directory against an installed copy of this build, and the files its
```cpp PATH and ```cmake PATH blocks tell the reader to write, written from the page. Those
files must be examples/collatz's, byte for byte.

A command passes when it exits with the code its comment names ("exit N"; 0 without one); a
comment with "Ctrl-C" has the command interrupted as a terminal does, once its output holds
ledger rows. Beyond exit codes, what the page says is checked: the output file's status after
each run, a refusal's one line (quoted in the page), the result it states, poolreport's view.

Usage: workloads_doc.py BUILD_DIR SOURCE_DIR WORK_DIR
Leaves WORK_DIR/home (the reader's HOME: ~/.local is the install prefix), WORK_DIR/work (the
reader's directory, with build-collatz/) and WORK_DIR/session.json (what the commands exported)
for the Slurm test that runs the page's Slurm section on the dev cluster (tests/slurm,
case workloads_doc): submitting jobs needs a cluster.
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_helpers import attr, ledger_rows  # noqa: E402

SLURM_SECTION = "5. Under Slurm"
# The page's libpool build: not run here. This test runs from that build (BUILD_DIR, the
# `build` folder the release preset writes; `ci` is release with -Werror): building it again
# inside one of its own tests would rebuild the tree under test while other tests run from it,
# or take a second full build of the project.
NOT_RUN = {"cmake --preset release && cmake --build build -j"}
# The page's `build` is BUILD_DIR (the same folder when the tree was built by its preset).
SUBSTITUTED = {
    "cmake --install build --prefix ~/.local": "cmake --install {build} --prefix ~/.local",
}


@dataclass
class Block:
    section: str  # the "## " heading it is under
    lang: str
    path: str  # the file the reader writes, for ```cpp PATH / ```cmake PATH
    text: str
    line: int


def parse(doc):
    """Every fenced block of the page, in order."""
    blocks, section, fence = [], "", None
    for no, line in enumerate(open(doc).read().splitlines(keepends=True), 1):
        if fence is None:
            if line.startswith("## "):
                section = line[3:].strip()
            m = re.match(r"```(\S*)[ \t]*(\S*)\s*$", line)
            if m:
                fence, body = (m.group(1), m.group(2), no), []
        elif line.rstrip("\n") == "```":
            blocks.append(Block(section, fence[0], fence[1], "".join(body), fence[2]))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{doc}:{fence[2]}: unclosed fence"
    for b in blocks:
        # Commands are ```sh, files ```LANG PATH; a ```cpp block without a path is an excerpt
        # for reading. Anything else could hide a command that no test runs.
        assert b.lang in ("cpp", "cmake") if b.path else b.lang in ("sh", "cpp"), \
            f"{doc}:{b.line}: fence '{b.lang} {b.path}': commands go in ```sh, files in " \
            "```LANG PATH"
    return blocks


@dataclass
class Command:
    text: str  # as the page has it
    bare: str  # without its comment
    comment: str
    line: int

    @property
    def exit(self):
        m = re.search(r"\bexit (\d+)\b", self.comment)
        return int(m.group(1)) if m else 0

    @property
    def interrupted(self):
        return "Ctrl-C" in self.comment

    def output(self):
        args = shlex.split(self.text, comments=True)
        return args[args.index("-o") + 1] if "-o" in args else None


def commands(block):
    """The commands of a ```sh block: one a line, a trailing backslash joins the next."""
    out, pending, first = [], "", 0
    for i, line in enumerate(block.text.splitlines()):
        if not pending:
            first = block.line + 1 + i
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.search(r"\s#\s(.*)$", line)
        bare = line[:m.start()] if m else line
        out.append(Command(line.strip(), bare.strip(), m.group(1) if m else "", first))
    assert not pending, f"block at line {block.line}: a continuation line ends it"
    return out


# Variables bash keeps for itself; the rest of `env` after a command is what the reader's shell
# would have.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}


class Shell:
    """The reader's terminal: each command runs in bash in one directory, with what earlier
    commands exported (the page's `export PATH=...` carries over)."""

    def __init__(self, cwd, env, logs):
        self.cwd, self.env, self.logs, self.count = cwd, dict(env), logs, 0
        os.makedirs(logs, exist_ok=True)

    def run(self, cmd, interrupt_when=None, timeout=600):
        self.count += 1
        base = os.path.join(self.logs, f"{self.count:02d}")
        envfile = base + ".env"
        script = f'{cmd}\n__rc=$?\nenv -0 > "{envfile}"\nexit $__rc\n'
        with open(base + ".out", "w") as out, open(base + ".err", "w") as err:
            # Its own process group, as a terminal's foreground job: Ctrl-C signals all of it.
            p = subprocess.Popen(["bash", "-c", script], cwd=self.cwd, env=self.env, stdout=out,
                                 stderr=err, start_new_session=True)
            try:
                if interrupt_when:
                    t0 = time.time()
                    while not interrupt_when():
                        assert p.poll() is None, f"{cmd}: ended before it could be interrupted"
                        assert time.time() - t0 < timeout, f"{cmd}: nothing to interrupt"
                        time.sleep(0.05)
                    os.killpg(p.pid, signal.SIGINT)
                rc = p.wait(timeout=timeout)
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
        if os.path.exists(envfile):
            with open(envfile, "rb") as f:
                pairs = [kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv]
            self.env = {k.decode(): v.decode() for k, v in pairs if k.decode() not in SHELL_OWN}
        return rc, open(base + ".out").read(), open(base + ".err").read()


def reader_env(home, base):
    """A reader's environment: a fresh HOME, so that ~/.local, the page's prefix, starts empty.
    Open MPI as root needs its two variables; -n 4 on fewer cores needs oversubscription
    allowed (what mpirun's --oversubscribe does): the page's commands stay as written."""
    env = dict(base, HOME=home, OMPI_MCA_rmaps_base_oversubscribe="1")
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for k in ("LIBPOOL_CONFIG", "LIBPOOL_OUTPUT", "SLURM_JOB_ID", "POOLRUN", "POOLREPORT"):
        env.pop(k, None)
    return env


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def status(path):
    with h5py.File(path, "r") as f:
        return attr(f, "status")


def check_build_commands(source):
    """What stands in for the page's libpool build must be what that build is."""
    with open(os.path.join(source, "CMakePresets.json")) as f:
        presets = {p["name"]: p for p in json.load(f)["configurePresets"]}
    assert presets["release"]["binaryDir"] == "${sourceDir}/build", presets["release"]
    assert presets["ci"]["inherits"] == "release", presets["ci"]


def main(build, source, work):
    doc = os.path.join(source, "docs", "workloads.md")
    text = open(doc).read()
    flat = " ".join(text.split())  # the page's prose, its line breaks undone
    blocks = parse(doc)
    example = os.path.join(source, "examples")
    files = [b for b in blocks if b.path]
    # The files the page has the reader write are examples/collatz's, and all of them.
    assert sorted(b.path for b in files) == sorted(
        f"collatz/{n}" for n in os.listdir(os.path.join(example, "collatz"))), \
        [b.path for b in files]
    for b in files:
        with open(os.path.join(example, b.path)) as f:
            assert b.text == f.read(), f"{doc}:{b.line}: differs from examples/{b.path}"

    shutil.rmtree(work, ignore_errors=True)
    home, cwd = os.path.join(work, "home"), os.path.join(work, "work")
    os.makedirs(home)
    os.makedirs(cwd)
    shell = Shell(cwd, reader_env(home, os.environ), os.path.join(work, "logs"))
    start_env = dict(shell.env)
    check_build_commands(source)
    used, ran, slurm = set(), [], []
    for b in blocks:
        if b.path:
            path = os.path.join(cwd, b.path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(b.text)
            continue
        if b.lang != "sh":
            continue
        for c in commands(b):
            if b.section == SLURM_SECTION:
                slurm.append(c)
                continue
            assert not c.bare.startswith("sbatch"), \
                f"{doc}:{c.line}: sbatch outside '{SLURM_SECTION}': no test would run it"
            run = c.text
            if c.bare in NOT_RUN:
                used.add(c.bare)
                continue
            if c.bare in SUBSTITUTED:
                used.add(c.bare)
                run = SUBSTITUTED[c.bare].format(build=shlex.quote(build))
            ran.append(c)
            check_command(shell, c, run, flat)
    stale = (NOT_RUN | set(SUBSTITUTED)) - used
    assert not stale, f"no longer in the page: {stale}"
    assert slurm and all(c.bare.startswith("sbatch") for c in slurm), slurm
    check_claims(shell, flat)
    # For the Slurm test: the reader's directory and HOME, and what the page's commands exported.
    with open(os.path.join(work, "session.json"), "w") as f:
        json.dump({"home": home, "cwd": cwd,
                   "exported": {k: v for k, v in shell.env.items() if start_env.get(k) != v}}, f)
    print(f"ran {len(ran)} commands of {doc}; {len(slurm)} left to the Slurm test")


def check_command(shell, c, run, flat):
    out_name = c.output()
    out = os.path.join(shell.cwd, out_name) if out_name else None
    before = digest(out) if out and os.path.exists(out) else None
    interrupt = None
    if c.interrupted:
        # Midway: once finished chunks are on disk.
        assert out, f"line {c.line}: an interrupted command without -o"
        interrupt = lambda: ledger_rows(out + ".partial") >= 3  # noqa: E731
    rc, stdout, stderr = shell.run(run, interrupt)
    assert rc == c.exit, (f"line {c.line}: {run}: exit {rc}, the page says {c.exit}", stdout,
                          stderr)
    if c.interrupted:
        # "the ledger keeps every chunk that finished, and collatz.h5 says partial"
        assert status(out) == "partial", status(out)
        with h5py.File(out, "r") as f:
            assert len(f["chunks/begin"]) >= 3
    elif c.exit != 0:
        # A refusal: the program's one line, which the page quotes (mpirun adds its banner
        # after it, as the page's mpirun has no -q), and the output left as it was.
        line = stderr.splitlines()[0] if stderr else ""
        assert f"`{line}`" in flat, (f"line {c.line}: the page does not quote {line!r}", stderr)
        assert out is None or (os.path.exists(out) and digest(out) == before), out
    elif out:
        assert status(out) == "complete", (run, status(out))


def check_claims(shell, flat):
    """What the page says of the program and of the run it walks through."""
    # Built against the installed copy in ~/.local, not another libpool of this machine.
    prefix = os.path.join(shell.env["HOME"], ".local")
    with open(os.path.join(shell.cwd, "build-collatz", "CMakeCache.txt")) as f:
        found = re.search(r"^libpool_DIR:PATH=(.*)$", f.read(), re.M)[1]
    assert found == os.path.join(prefix, "lib", "cmake", "libpool"), found
    ldd = subprocess.run(["ldd", os.path.join(shell.cwd, "build-collatz", "collatz")],
                         capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"(libpool\S*) => (\S+)", ldd)
    assert libs and all(p.startswith(prefix + "/") for _, p in libs), ldd
    out = os.path.join(shell.cwd, "collatz.h5")
    m = re.search(r"the longest below 10\^8 is (\d+), (\d+) steps", flat)
    assert m, "the page no longer states the result"
    with h5py.File(out, "r") as f:
        assert attr(f, "status") == "complete" and attr(f, "workload") == "collatz"
        r = f["result"]
        assert (int(r["argmax"][()]), int(r["max_steps"][()])) == (int(m[1]), int(m[2])), \
            (r["argmax"][()], r["max_steps"][()])
        assert int(r["counts"][:].sum()) == 10**8 - 1
        # Interrupted once, resumed once; the resume at another rank count.
        assert list(f["resumes/previous_status"].asstr()[:]) == ["partial"]
        assert max(f["chunks/attempt"][:]) == 2
        assert int(f.attrs["ranks"]) == 2
    # poolreport: the installed one (the page's PATH), with the result, where it ran, the resumes.
    rc, stdout, stderr = shell.run("command -v poolreport")
    assert rc == 0 and stdout.strip() == os.path.join(prefix, "bin", "poolreport"), stdout
    rc, stdout, stderr = shell.run("poolreport collatz.h5")
    assert rc == 0, stderr
    for word in ("collatz", "complete", m[1], "resume"):
        assert word in stdout, (word, stdout)


if __name__ == "__main__":
    main(*[os.path.abspath(a) for a in sys.argv[1:4]])
