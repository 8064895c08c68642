"""docs/output.md against the files the workloads write: every dataset and root attribute a
workload's file holds is named in the document, and every name the document lists for a
workload exists in that workload's file (conditional ones in the run that has the option).

Usage: output_doc_check.py POOLRUN MPIEXEC CONFIGS_DIR DOC
"""
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from e2e_helpers import builtin_workloads

POOLRUN, MPIEXEC, CONFIGS, DOC = [os.path.abspath(a) for a in sys.argv[1:5]]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("SLURM_JOB_ID", None)
NAME = re.compile(r"`([^`]+)`")


def section(text, title):
    """The lines of the section `## title` up to the next `## `."""
    lines = text.splitlines()
    start = lines.index("## " + title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def table_rows(lines):
    """Cells of a Markdown table's body rows (header and rule left out)."""
    rows = [l for l in lines if l.startswith("|")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


def parse_doc(path):
    text = open(path).read()
    root = set()
    for cells in table_rows(section(text, "Root attributes")):
        root.update(NAME.findall(cells[0]))
    common, per, optional = set(), {}, {}
    for cells in table_rows(section(text, "What each workload writes")):
        key, body = cells[0], cells[1]
        # Names inside "(`--opt`: ...)" exist only with that option.
        opt = re.search(r"\((`--[^`]+`): (.*)\)", body)
        extra = {n for n in NAME.findall(opt.group(2))} if opt else set()
        base = body[:opt.start()] if opt else body
        names = {n for n in NAME.findall(base) if n.startswith("/")}
        if key == "every workload":
            common = names
        else:
            wl = NAME.findall(key)[0]
            per[wl], optional[wl] = names, extra
    return root, common, per, optional


def run(args, d):
    p = subprocess.run([MPIEXEC, "-q", "-n", "2", "--oversubscribe", POOLRUN, *args, "-q"],
                       cwd=d, env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (args, p.stderr)


def contents(path):
    with h5py.File(path, "r") as f:
        datasets = []
        f.visititems(lambda n, o: datasets.append("/" + n) if isinstance(o, h5py.Dataset)
                     else None)
        return set(datasets), set(f.attrs.keys())


def workloads():
    """poolrun's table of workloads: every one must be documented and run here."""
    return set(builtin_workloads(POOLRUN, ENV))


def main():
    root_doc, common, per, optional = parse_doc(DOC)
    listed = workloads()
    documented = {key.split()[0] for key in per}
    assert documented == listed and common and root_doc, (sorted(documented), sorted(listed))
    with tempfile.TemporaryDirectory(prefix="output-doc-") as d:
        with h5py.File(os.path.join(d, "in.h5"), "w") as f:
            f["n"] = np.arange(2, 100, dtype=np.uint64)
            f["x"] = np.linspace(0.0, 1.0, 1000)
            f["t"] = np.linspace(0.0, 1.0, 3000).reshape(1000, 3)
        cfg = lambda wl: ["--config", os.path.join(CONFIGS, wl + ".toml")]
        # (workload, file, arguments, with its optional datasets)
        runs = [("datagen", "datagen.h5", cfg("datagen"), False),
                ("powersum", "powersum.h5", cfg("powersum"), False),
                ("primes", "primes.h5", cfg("primes"), False),
                ("pi", "pi.h5", cfg("pi"), False),
                ("factor", "factor.h5", cfg("factor"), False),
                ("factor", "factor_in.h5", ["factor", "--input", "in.h5:/n"], False),
                ("seed", "seed.h5", ["seed"], False),
                ("stats", "stats.h5", ["stats", "in.h5:/x"], False),
                ("stats", "stats_bins.h5", ["stats", "in.h5:/x", "--bins", "8"], True),
                ("stats --axis 0", "stats_axis0.h5", ["stats", "in.h5:/t", "--axis", "0"], False),
                ("thumbnails", "thumbnails.h5", cfg("thumbnails"), False),
                ("exec", "exec.h5", cfg("exec"), False)]
        seen_root = set()
        problems = []
        for wl, out, args, with_optional in runs:
            if args[0] == "--config":
                args = [wl] + args
            run(args + ["-o", out], d)
            datasets, attrs = contents(os.path.join(d, out))
            seen_root |= attrs
            want = common | per[wl] | (optional[wl] if with_optional else set())
            for name in sorted(datasets - want - (optional[wl] if not with_optional else set())):
                problems.append(f"{out}: dataset {name} is not in docs/output.md for {wl}")
            if not with_optional:
                for name in sorted(datasets & optional[wl]):
                    problems.append(f"{out}: {name} is documented for an option not given")
            for name in sorted(want - datasets):
                problems.append(f"{out}: docs/output.md lists {name} for {wl}; the file lacks it")
            for name in sorted(attrs - root_doc):
                problems.append(f"{out}: root attribute {name} is not in docs/output.md")
            inputs = {"input_files", "input_sizes", "input_mtimes", "input_checksums"}
            reads = wl.split()[0] in ("stats", "thumbnails") or out == "factor_in.h5"
            if reads != inputs.issubset(attrs):
                problems.append(f"{out}: input attributes {'missing' if reads else 'present'}")
        for name in sorted(root_doc - seen_root - {"slurm_job_id"}):
            problems.append(f"docs/output.md lists root attribute {name}; no workload wrote it")
    unrun = set(per) - {wl for wl, _, _, _ in runs}
    assert not unrun, f"documented but not run here: {sorted(unrun)}"
    assert listed <= {wl.split()[0] for wl, _, _, _ in runs}, "a workload of poolrun --list not run"
    assert not problems, "\n".join(problems)
    print(f"docs/output.md matches {len(runs)} files: ok")


if __name__ == "__main__":
    main()
