"""Start a private JupyterLab and drive it in Debian chromium: shared by the browser tests and
benchmarks/interactive.py, so both measure and test the same set-up.

The server runs with private settings/runtime/config folders and the given judgment store, so it
never touches the user's files or the real store.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import nbformat

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "jupyter" / "settings"  # the project's JupyterLab settings (`make lab` uses them in place)
IPYTHON = ROOT / "jupyter" / "ipython"  # the kernels' profile: imports the form's modules at start
SERVER_CONFIG = ROOT / "jupyter" / "config"  # the server's: kernels forked from a preloaded template
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
# Looks at the notebook shown (other restored notebooks may be open in hidden tabs).
KERNEL_READY_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const s = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset?.status;
  if (s && s !== 'idle') window.__rkSeenBusy = true;
  const prompt = panel.querySelector('.jp-InputPrompt')?.textContent || '';
  return (window.__rkSeenBusy && s === 'idle') || prompt.includes('[1]');
}"""


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, institution: int, expert: str) -> None:
    """The real assessment notebook, with the parameters an expert would type in."""
    nb = nbformat.read(ROOT / "notebooks" / "assessment.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = (
        params.source.replace('institution = "13"', f'institution = "{institution}"')
        .replace('expert = ""', f'expert = "{expert}"')
        .replace('mode = "report"', 'mode = "interactive"')
    )
    if f'expert = "{expert}"' not in params.source:
        raise ValueError('参数单元格中没有 expert = ""')
    nbformat.write(nb, path)


def lab_env(tmp: Path, db: Path) -> dict[str, str]:
    """Private Jupyter folders holding a copy of the project's settings (Chinese, no news pop-up), and
    the given store."""
    dirs = {name: tmp / name for name in ("workspaces", "runtime", "config", "data")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    dirs["settings"] = tmp / "settings"
    shutil.copytree(SETTINGS, dirs["settings"], dirs_exist_ok=True)
    shutil.copytree(IPYTHON, tmp / "ipython", dirs_exist_ok=True)
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        IPYTHONDIR=str(tmp / "ipython"),
        JUPYTER_CONFIG_PATH=str(SERVER_CONFIG),
        RUBRIC_KERNEL_DB=str(db),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@contextmanager
def jupyter_lab(root: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The venv's `jupyter lab` on a free localhost port; yields (base url, token); stopped afterwards."""
    port, token = free_port(), "rk-browser-test"
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
        _wait_for(f"{base}/api/status?token={token}", proc, "jupyter lab")
        yield base, token
    finally:
        _stop(proc)
        log.close()


def _wait_for(url: str, proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    """Until the server answers `url` at all (a loaded machine starts a server slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} 退出（返回码 {proc.returncode}）")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # listening (Voilà answers its API with a redirect to a page it does not serve)
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise TimeoutError(f"{name} 未在 {timeout:g} 秒内就绪")


def launch(p, profile: Path, height: int = 1000):
    """A headless Debian chromium context with a fresh profile (no `playwright install`)."""
    return p.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": height},
        locale="zh-CN",
    )


def open_notebook(page, base: str, token: str, name: str) -> None:
    """Open a notebook and wait until its kernel is connected (so Run All is not lost)."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}", timeout=60_000)  # no restored tabs
    page.wait_for_function(KERNEL_READY_JS, polling="raf", timeout=60_000)


def run_all(page) -> None:
    """Menu 运行 (Run) → 运行所有单元格 (Run All Cells)."""
    page.locator(".lm-MenuBar-item", has_text="运行").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


@contextmanager
def voila(notebook: Path, env: dict[str, str]) -> Iterator[str]:
    """The venv's `voila` serving one notebook on a free localhost port; yields its URL; stopped afterwards."""
    port = free_port()
    cmd = [
        str(Path(sys.executable).with_name("voila")),
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
    ]
    log = (notebook.parent.parent / "voila.log").open("w")
    proc = subprocess.Popen(cmd, env=env, cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/api/status", proc, "voila")
        yield base
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
