"""The figures of the expert's workbench (issue 12 §3), each printed with its target, in one run.

Usage: ``.venv/bin/python benchmarks/interactive.py [--browser | --no-browser]`` (``--browser``: only
the browser figures and the kernel-side profile; ``--no-browser``: only the command-line figures).
Command-line figures go through the installed
``rubric-kernel`` in subprocesses, as an expert would type them; browser figures drive the real
assessment notebook in JupyterLab + Debian chromium with the same driver as tests/test_browser.py.
Everything works on a temporary store and output folder. The machine's load is printed with the
figures, since it is shared.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from lab_driver import (
    CHROMIUM,
    KERNEL_READY_JS,
    ROOT,
    jupyter_lab,
    lab_env,
    launch,
    open_notebook,
    run_all,
    voila,
    write_notebook,
)

CLI = str(Path(sys.executable).with_name("rubric-kernel"))
INSTITUTION = 13
# Flips the first shown rule-item checkbox and resolves with the ms until the header changes.
TICK_JS = """async () => {
  const box = [...document.querySelectorAll('.rk-form .rk-item input[type=checkbox]')]
    .find(b => b.offsetParent !== null);
  return await new Promise(resolve => {
    const t0 = performance.now();
    const obs = new MutationObserver(() => { obs.disconnect(); resolve(performance.now() - t0); });
    obs.observe(document.querySelector('.rk-header'), {subtree: true, childList: true, characterData: true});
    box.click();
  });
}"""


# Records, from now on, when the Run All menu item is released (Lumino runs a menu command on
# pointerup), when each code cell's prompt gets its number (its execute_reply has arrived) and when the
# form's Save button is in the page: where Run All's time goes, kernel or browser.
TRACE_JS = """() => {
  const t0 = performance.now(); const seen = {}; window.__rkTrace = seen;
  document.addEventListener('pointerup', e => {
    if (!('run all' in seen) && e.target.closest('[data-command="runmenu:run-all"]')) seen['run all'] = performance.now() - t0;
  }, true);
  const look = () => {
    document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell').forEach((c, i) => {
      const p = c.querySelector('.jp-InputPrompt')?.textContent || '';
      if (/\\[\\d+\\]/.test(p) && !(('cell ' + (i + 1)) in seen)) seen['cell ' + (i + 1)] = performance.now() - t0;
    });
    if (!('form shown' in seen) && document.querySelector('.rk-save')) seen['form shown'] = performance.now() - t0;
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

# The page's own navigation timing, in seconds from the request: HTML received, scripts parsed,
# every script and style loaded, and when JupyterLab's shell was first in the page.
NAVIGATION_JS = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const lab = performance.getEntriesByType('resource').filter(r => /\\.js/.test(r.name));
  const js = lab.length ? Math.max(...lab.map(r => r.responseEnd)) : 0;
  return {'html': n.responseEnd / 1000, 'DOM ready': n.domContentLoadedEventEnd / 1000,
          'load event': n.loadEventEnd / 1000, 'last script fetched': js / 1000};
}"""


TICKS = 20  # the tick figure's median is over this many ticks: a loaded machine stalls a few of them
# A person ticks a few times a second at most, so the figure paces ticks 250 ms apart. Ticks fired the
# instant the header moves (on the same box or alternating boxes) take about 50 ms each as long as they
# come less than ~60-100 ms apart, and ~15 ms beyond that: measured with jupyter_client alone, the
# kernel answers back-to-back changes in 3-6 ms, so that hold is in the page or the server, not in the
# form's code. The back-to-back median is printed beside the figure.
TICK_PAUSE_MS = 250
CPU: list[float] = []  # each command's CPU seconds (user + system), in the order run: less noisy than wall


def _wall(args: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([CLI, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def _line(name: str, value: str, target: str, met: bool) -> None:
    print(f"{name:<44} {value:>10}   target {target:<8} {'met' if met else 'NOT met'}", flush=True)


def cli_figures(tmp: Path, env: dict[str, str]) -> None:
    first = _wall(["score", str(INSTITUTION)], env)  # fills the store (and the input cache, if stale)
    print(f"{'':<44} (first score, store filled: {first:.2f} s wall, {CPU[-1]:.2f} s CPU)")
    score = statistics.median(_wall(["score", str(INSTITUTION)], env) for _ in range(5))
    _line("rubric-kernel score 13, wall, median of 5", f"{score:.2f} s", "<= 0.5 s", score <= 0.5)
    print(f"{'':<44} (CPU median {statistics.median(CPU[-5:]):.2f} s)")
    report = _wall(["report", str(INSTITUTION), "--out", str(tmp / "reports")], env)
    _line("rubric-kernel report 13, wall", f"{report:.2f} s", "<= 1.5 s", report <= 1.5)
    print(f"{'':<44} (CPU {CPU[-1]:.2f} s)")
    cold = _wall(["batch", "--out", str(tmp / "batch")], env)
    warm = _wall(["batch", "--out", str(tmp / "batch")], env)
    share = warm / cold
    _line("batch re-run unchanged / cold (75)", f"{share:.1%}", "<= 5 %", share <= 0.05)
    print(f"{'':<44} (cold {cold:.1f} s, re-run {warm:.1f} s)")


def browser_figures(tmp: Path, db: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    root = tmp / "lab"
    root.mkdir()
    for name in ("run_all.ipynb", "open_url.ipynb"):
        write_notebook(root / name, INSTITUTION, "基准测试专家")
    with jupyter_lab(root, lab_env(tmp / "jupyter", db)) as (base, token), sync_playwright() as p:
        browser = launch(p, tmp / "chromium-profile")
        try:
            page = browser.new_page()
            open_notebook(page, base, token, "run_all.ipynb")  # kernel started and connected
            page.evaluate(TRACE_JS)
            t = time.perf_counter()
            run_all(page)
            expect(page.locator(".rk-save")).to_be_visible(timeout=180_000)
            wall = time.perf_counter() - t
            trace = page.evaluate("() => window.__rkTrace")
            run = (trace["form shown"] - trace["run all"]) / 1000
            _line("Run All -> form usable (kernel up)", f"{run:.2f} s", "<= 1.5 s", run <= 1.5)
            print(
                f"  from the Run All command (in the page); {wall:.2f} s with the driver opening the 运行 menu."
                "\n  in the page, from the trace's start:",
                ", ".join(f"{k} {v / 1000:.2f} s" for k, v in sorted(trace.items(), key=lambda kv: kv[1])),
            )
            page.locator(".rk-form .rk-item input[type=checkbox]").first.wait_for(state="visible")
            ticks = []
            for _ in range(TICKS):  # on, off, on, ...
                page.wait_for_timeout(TICK_PAUSE_MS)
                ticks.append(page.evaluate(TICK_JS) / 1000)
            back_to_back = [page.evaluate(TICK_JS) / 1000 for _ in range(TICKS)]
            tick = statistics.median(ticks)
            _line(f"tick -> header updated, median of {TICKS}", f"{tick:.3f} s", "<= 0.05 s", tick <= 0.05)
            print(
                f"  quartiles {' / '.join(f'{q:.3f}' for q in statistics.quantiles(ticks))} s, one tick every"
                f" {TICK_PAUSE_MS} ms; back to back:"
                f" median {statistics.median(back_to_back):.3f} s"
            )
            page.close()

            page = browser.new_page()
            marks: dict[str, float] = {}
            page.on(
                "response",
                lambda r: (
                    r.request.method == "POST"
                    and "/api/sessions" in r.url
                    and marks.setdefault("kernel started (session made)", time.perf_counter() - t)
                ),
            )
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            t = time.perf_counter()
            page.goto(f"{base}/lab/tree/open_url.ipynb?reset&token={token}", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
            shown = time.perf_counter() - t
            nav = page.evaluate(NAVIGATION_JS)
            page.wait_for_function(KERNEL_READY_JS, polling="raf", timeout=60_000)
            ready = time.perf_counter() - t
            run_all(page)
            expect(page.locator(".rk-save")).to_be_visible(timeout=180_000)
            url = time.perf_counter() - t
            _line("open URL -> form usable (incl. Run All)", f"{url:.2f} s", "<= 5 s", url <= 5)
            cpu = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            print(
                f"  page main thread, less noisy than wall: scripts {cpu['ScriptDuration']:.2f} s,"
                f" all tasks {cpu['TaskDuration']:.2f} s, layout and style"
                f" {cpu['LayoutDuration'] + cpu['RecalcStyleDuration']:.2f} s"
            )
            steps = {**nav, "notebook shown": shown, **marks, "kernel connected": ready, "form": url}
            print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(steps.items(), key=lambda kv: kv[1])))
            page.close()
        finally:
            browser.close()
    voila_figure(tmp, db)


def voila_figure(tmp: Path, db: Path) -> None:
    """The Voilà page (`make expert`): opening its URL runs the whole notebook in a fresh kernel."""
    from playwright.sync_api import expect, sync_playwright

    app = tmp / "voila-app"
    app.mkdir()
    write_notebook(app / "assessment.ipynb", INSTITUTION, "基准测试专家")
    with voila(app / "assessment.ipynb", lab_env(tmp / "voila-jupyter", db)) as url, sync_playwright() as p:
        browser = launch(p, tmp / "voila-profile")
        try:
            page = browser.new_page()
            t = time.perf_counter()
            page.goto(f"{url}/?institution={INSTITUTION}", timeout=120_000)
            expect(page.locator(".rk-save")).to_be_visible(timeout=180_000)
            took = time.perf_counter() - t
            _line("Voila: open URL -> form usable (fresh kernel)", f"{took:.2f} s", "<= 5 s", took <= 5)
        finally:
            browser.close()


def kernel_profile(tmp: Path, db: Path) -> None:
    """Where Run All's time goes inside the kernel: each code cell's wall time and the comm messages
    it sends (the frontend fetches one model per message; the rest of the browser figure is its render)."""
    import nbformat
    from jupyter_client.manager import start_new_kernel

    nb = tmp / "profile.ipynb"
    write_notebook(nb, INSTITUTION, "基准测试专家")
    cells = [c for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"]
    env = lab_env(tmp / "profile-jupyter", db)  # as JupyterLab's kernels get it (the project's kernel profile)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(ROOT))
    try:
        for cell in cells:
            t = time.perf_counter()
            comms = 0
            msg_id = kc.execute(cell.source)
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                comms += msg["msg_type"].startswith("comm_")
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            first = cell.source.strip().splitlines()[-1][:40]
            print(f"  kernel: {first:<42} {time.perf_counter() - t:6.3f} s  {comms:5d} comm messages")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--no-browser", action="store_true", help="only the command-line figures")
    only.add_argument("--browser", action="store_true", help="only the browser figures and the kernel profile")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machines inflate every figure)")
    tmp = Path(tempfile.mkdtemp(prefix="rk-interactive-"))
    try:
        db = tmp / "store.sqlite"
        # As an installed package runs: with its modules' bytecode, which PYTHONDONTWRITEBYTECODE (set
        # in some shells and CI) would otherwise have every command recompile from source (~0.1 s each).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"RUBRIC_KERNEL_DB": str(db)}
        if not args.browser:
            cli_figures(tmp, env)
        if args.no_browser:
            return
        from rubric_kernel.assessment import open_assessment

        open_assessment(str(INSTITUTION), db=str(db)).store.close()  # fills the store on first use: not measured
        kernel_profile(tmp, db)
        if CHROMIUM.exists():
            browser_figures(tmp, db)
        else:
            print("浏览器指标未测：缺少 /usr/bin/chromium")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
