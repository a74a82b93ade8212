"""Batch speed, measured in one run so the ratios hold on a noisy machine.

(a) floor: a trivial one-cell notebook executed and exported 75 times by the same worker pool
    and machinery as the batch (same worker count, same kernel start, same exporter);
(b) the full cold batch of 75 institutions, no cache;
(c) the warm re-run of (b), nothing changed;
(d) what a user would write by hand: a loop of ``papermill`` and ``jupyter nbconvert --to html``
    command lines, over a sample of institutions, scaled to 75.

(a), (b) and (c) each run in a fresh process, as the batch command would; (a) and (b) alternate
``--repeat`` times and their medians are the figures. Targets: b/a <= 1.2, c/b <= 0.05, d/b >= 15.
Also printed: (b-a) per institution, the batch's own cost, which b/a hides when the floor moves (a
quicker kernel start makes a smaller, so b/a larger, though b is quicker too).
The load average is printed before and after: other processes on the machine slow every part, not
always evenly. Usage: python benchmarks/batch.py [--sample 15] [--workers N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from rubric_kernel.batch.contract import RESULT_MIMETYPE, SKIP_TAG, notebook_parameters
from rubric_kernel.batch.limits import default_workers
from rubric_kernel.batch.runner import BatchConfig, execute_jobs, run_batch
from rubric_kernel.batch.worker import Job
from rubric_kernel.bundled import DEMO_DATA, NOTEBOOK
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import KERNEL_WORKSPACES, load_workspace

BIN = Path(sys.executable).parent


def peak_mb() -> float:
    """Largest resident set of this process or any finished child, in MB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def trivial_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # a parameters cell as the real notebook's (skipped, papermill injects after it), then the one cell
    parameters = nbformat.v4.new_code_cell("", metadata={"tags": ["parameters", SKIP_TAG]})
    nb.cells = [parameters, nbformat.v4.new_code_cell(f"display({{{RESULT_MIMETYPE!r}: {{}}}}, raw=True)")]
    path = folder / "trivial.ipynb"
    nbformat.write(nb, path)
    return path


def floor(numbers: list[int], workers: int, out: Path, db: str) -> float:
    out.mkdir(parents=True, exist_ok=True)
    notebook = trivial_notebook(out)
    data = str(DEMO_DATA)
    jobs = [Job(n, "floor", out, notebook_parameters(n, data=data, db=db), notebook) for n in numbers]
    failures = []
    start = time.perf_counter()
    execute_jobs(jobs, workers, lambda r: failures.append(r.error) if not r.ok else None, (data, db, ""))
    took = time.perf_counter() - start
    if failures:
        raise SystemExit(f"floor failed: {failures[0]}")
    return took


def batch(ws, store: Store, numbers: list[int], workers: int, out: Path, db: str) -> tuple[float, int]:
    # store_ready: main() ran the store's first-use check, as the batch command's open_store does
    cfg = BatchConfig(out=out, numbers=numbers, workers=workers, data=str(DEMO_DATA), db_url=db, store_ready=True)
    start = time.perf_counter()
    report = run_batch(ws, store, cfg, lambda n: f"report {n}")
    if report.failures:
        raise SystemExit(f"batch failed: {report.failures}")
    return time.perf_counter() - start, len(report.executed)


def cli_loop(numbers: list[int], folder: Path, db: str) -> float:
    env = dict(os.environ, RUBRIC_KERNEL_DB=db)
    start = time.perf_counter()
    for n in numbers:
        out_nb = folder / f"cli-{n:02d}.ipynb"
        subprocess.run(
            [
                BIN / "papermill",
                str(NOTEBOOK),
                str(out_nb),
                "-p",
                "institution",
                str(n),
                "-p",
                "mode",
                "report",
                "--cwd",
                str(NOTEBOOK.parent),
                "--no-progress-bar",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [BIN / "jupyter", "nbconvert", "--to", "html", "--no-input", str(out_nb)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - start


def part(name: str, folder: Path, out: Path, workers: int) -> None:
    """One measurement, in a process of its own: none inherits another's imports or caches (the batch
    process imports its exporter and workbooks once), and each starts as the batch command does: with the
    inputs as the command loads them (validated ones read back from var/cache)."""
    ws = KERNEL_WORKSPACES.load()
    numbers = list(ws.roster)
    db = f"sqlite:///{folder / 'bench.sqlite'}"
    if name == "a":
        seconds, executed = floor(numbers, workers, out, db), len(numbers)
    else:
        with Store(db) as store:
            seconds, executed = batch(ws, store, numbers, workers, out, db)
    print(json.dumps({"seconds": seconds, "executed": executed}))


def measure(name: str, folder: Path, out: Path, workers: int) -> tuple[float, int]:
    argv = [sys.executable, __file__, "--part", name, "--folder", str(folder), "--out", str(out)]
    done = subprocess.run([*argv, "--workers", str(workers)], stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(done.stdout.splitlines()[-1])
    return figures["seconds"], figures["executed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=15, help="institutions in the command-line loop (d)")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--repeat", type=int, default=3, help="cold batches (b), each beside a floor (a)")
    ap.add_argument("--part", choices=("a", "b"), help=argparse.SUPPRESS)  # one measurement, run by main
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        part(args.part, args.folder, args.out, args.workers)
        return
    ws = load_workspace()
    numbers = list(ws.roster)
    with tempfile.TemporaryDirectory(prefix="rk-bench-") as tmp:
        folder = Path(tmp)
        db = f"sqlite:///{folder / 'bench.sqlite'}"
        with Store(db) as store:
            bootstrap(store, ws)
        print(f"{len(numbers)} institutions, {args.workers} workers, load average {os.getloadavg()}", flush=True)
        # Floors and cold batches alternate, so a slow spell of the machine falls on both; each cold batch
        # writes into a folder of its own (no earlier state), and the figures are the medians.
        floors, colds = [], []
        for k in range(1, args.repeat + 1):
            a, _ = measure("a", folder, folder / f"floor{k}", args.workers)
            b, executed = measure("b", folder, folder / f"out{k}", args.workers)
            floors.append(a)
            colds.append(b)
            print(
                f"#{k} (a) floor, trivial notebook x{len(numbers)}: {a:.1f} s; (b) cold batch, {executed} executed: "
                f"{b:.1f} s; b/a={b / a:.2f}",
                flush=True,
            )
        a, b = statistics.median(floors), statistics.median(colds)
        print(f"(a) floor: {a:.1f} s, (b) cold batch: {b:.1f} s (medians of {args.repeat})", flush=True)
        c, executed = measure("b", folder, folder / "out1", args.workers)  # the first batch again: nothing changed
        print(f"(c) warm re-run, {executed} executed: {c:.2f} s", flush=True)
        sample = numbers[: args.sample]
        d_sample = cli_loop(sample, folder, db)
        d = d_sample * len(numbers) / len(sample)
        print(
            f"(d) papermill + nbconvert command lines: {d_sample:.1f} s for {len(sample)}, "
            f"scaled to {len(numbers)}: {d:.1f} s",
            flush=True,
        )
        print(f"peak memory (largest single process): {peak_mb():.0f} MB")
        print(json.dumps({"a": round(a, 2), "b": round(b, 2), "c": round(c, 2), "d": round(d, 2)}))
        # b/a alone falls when the batch's own work gets cheaper and rises when the shared machinery does:
        # the batch's own cost per institution, in wall time on these workers, says which moved.
        pairs = list(zip(floors, colds, strict=True))
        own = 1000 * statistics.median(b_k - a_k for a_k, b_k in pairs) / len(numbers)
        print(
            f"ratios b/a={statistics.median(b_k / a_k for a_k, b_k in pairs):.2f} (median of {args.repeat} pairs) c/b={c / b:.3f} "
            f"d/b={d / b:.1f}; (b-a) per institution {own:.0f} ms; load average {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
