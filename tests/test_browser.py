"""End to end: the scoring form in a real JupyterLab, driven in Debian chromium through Playwright.

The server runs with private settings/runtime/config folders and a temporary judgment store, on a
notebook written here (open the assessment, show the form), so the test never touches the user's
files or the real store. The notebook is our own rather than notebooks/assessment.ipynb: this tests
the form, independently of the report notebook.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path

import nbformat
import pytest

from rubric_kernel.assessment import open_assessment
from rubric_kernel.store import Store

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "test-artifacts" / "browser" / "form.png"
EXPERT = "浏览器测试专家"
INSTITUTION = 13
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Runs in the page on every animation frame: true once the kernel indicator has left "idle" and come
# back (it reads "idle" before any kernel exists, and a Run All sent then silently runs nothing).
KERNEL_READY_JS = """() => {
  const s = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset?.status;
  if (s && s !== 'idle') window.__rkSeenBusy = true;
  const prompt = document.querySelector('.jp-InputPrompt')?.textContent || '';
  return (window.__rkSeenBusy && s === 'idle') || prompt.includes('[1]');
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="需要 Debian chromium（/usr/bin/chromium）：make test-deps"),
]


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    """The real assessment notebook, with the parameters an expert would type in."""
    nb = nbformat.read(ROOT / "notebooks" / "assessment.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = (
        params.source.replace('institution = "13"', f'institution = "{INSTITUTION}"')
        .replace('expert = ""', f'expert = "{EXPERT}"')
        .replace('mode = "report"', 'mode = "interactive"')
    )
    assert f'expert = "{EXPERT}"' in params.source
    nbformat.write(nb, path)


def _lab_env(tmp: Path, db: Path) -> dict[str, str]:
    """Private Jupyter folders, the news pop-up switched off, and the temporary store."""
    dirs = {name: tmp / name for name in ("settings", "workspaces", "runtime", "config", "data")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        RUBRIC_KERNEL_DB=str(db),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@contextmanager
def _jupyter_lab(root: Path, env: dict[str, str]):
    """The venv's `jupyter lab` on a free localhost port; yields (base url, token); stopped afterwards."""
    port, token = _free_port(), "rk-browser-test"
    cmd = [
        str(Path(sys.executable).with_name("jupyter-lab")),
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    log = (root.parent / "jupyter.log").open("w")
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, token, proc)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_server(base: str, token: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab 退出（返回码 {proc.returncode}）")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise TimeoutError("jupyter lab 未在 30 秒内就绪")


def _seed_store(db: Path):
    """Import the demo judgments into the temporary store and pick what to tick: a yes/no rule item
    on a full-score, deduction-style indicator that no credit record touches."""
    a = open_assessment(str(INSTITUTION), db=str(db))
    try:
        for ir in a.score().indicators:
            ind = a.ws.rubric.indicators[ir.number]
            if ind.base == "full" and ir.score == ind.max_points and not ir.lines:
                item = next((it for it in ind.items if not it.unit), None)
                if item is not None:
                    level1, level2 = a.ws.rubric.placement[ind.number]
                    return a.dataset, ind, item, level1, level2, len(a.history(f"indicator:{ind.number}"))
    finally:
        a.store.close()
    raise AssertionError("演示数据中没有可勾选的扣分项")


def _total(page) -> float:
    return float(page.locator(".rk-header .rk-total").inner_text())


def _open_section(page, target, level1, level2) -> None:
    """Bring an indicator into view: its tab, then its accordion section unless already open."""
    page.locator(".lm-TabBar-tab", has_text=f"{level1.name}（").first.click()
    if not target.is_visible():
        page.locator(".jupyter-widget-Collapse-header", has_text=f"（{level2.number}）{level2.name}").first.click()


def test_form_in_jupyterlab(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    root = tmp_path / "lab"
    root.mkdir()
    db = tmp_path / "store.sqlite"
    dataset, ind, item, level1, level2, versions_before = _seed_store(db)
    _write_notebook(root / "form.ipynb")
    env = _lab_env(tmp_path / "jupyter", db)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)

    with _jupyter_lab(root, env) as (base, token), sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
            locale="zh-CN",
        )
        page = browser.new_page()
        try:
            page.goto(f"{base}/lab/tree/form.ipynb?token={token}", timeout=60_000)
            page.wait_for_function(KERNEL_READY_JS, polling="raf", timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            expect(page.locator(".rk-save")).to_be_visible(timeout=60_000)
            before = _total(page)

            box = page.locator(f".rk-item-{item.id} input[type=checkbox]")
            _open_section(page, box, level1, level2)
            box.scroll_into_view_if_needed()
            assert not box.is_checked()
            box.check()
            expect(page.locator(".rk-header .rk-total")).not_to_have_text(f"{before:g}", timeout=10_000)
            assert _total(page) == pytest.approx(before - item.points)

            page.locator(".rk-save").click()
            expect(page.locator(".rk-message")).to_contain_text("已保存 1 项", timeout=15_000)
            page.locator(".rk-header").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT))
        except Exception:
            page.screenshot(path=str(SCREENSHOT.with_name("failure.png")))
            raise
        finally:
            browser.close()

    store = Store(str(db))
    try:
        history = store.history(dataset, INSTITUTION, f"indicator:{ind.number}")
    finally:
        store.close()
    assert len(history) == versions_before + 1
    latest = history[-1]
    assert latest.expert == EXPERT
    assert latest.content["ticks"] == {item.id: 1}
