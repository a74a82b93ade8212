"""Quick kernels for the expert's JupyterLab: forked from a template that imported everything while the page loaded.

Opening the assessment notebook used to wait for a fresh Python kernel to start and import IPython,
ipywidgets, pydantic, SQLAlchemy and the package: seconds on a busy machine, and only after the page
had loaded and asked for a session. This Jupyter server extension starts the batch's kernel template
(``batch.zygote``) when the server starts, preloading what the notebook's cells import, so by the
time the page asks, a kernel is a fork away. Voilà (``make expert``) loads no server extensions: its
``jupyter/config/voila.py`` calls ``start_template`` instead. The ``rubric-kernel-lab`` provisioner (the
``jupyter_client.kernel_provisioners`` entry point, chosen by
``KernelProvisionerFactory.default_provisioner_name`` in ``jupyter/config``) forks from it; a kernel
spec that is not this interpreter's IPython kernel, or a template that failed, starts as usual.
Each kernel is still a process of its own with a fresh namespace: only the imports are shared.
In JupyterLab the extension also starts a notebook's session as soon as its page is requested
(``page_config_hook``), so the page, once loaded, finds its kernel running instead of asking for one.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jupyter_client.connect import KernelConnectionInfo
from jupyter_core.utils import ensure_async

from .batch.provisioner import ForkedProcess, ForkProvisioner
from .batch.zygote import TemplateFailed, Zygote

NAME = "rubric-kernel-lab"  # the entry point's name (pyproject.toml)
# What the assessment notebook's setup and form cells import, beyond the batch template's list, and
# what the form's Save writes through: the store's reads are plain SQL and import no SQLAlchemy, so
# the first save would otherwise pay for importing it.
PRELOAD = (
    "ipywidgets",
    "rubric_kernel.assessment",
    "rubric_kernel.form",
    "rubric_kernel.form_app",
    "rubric_kernel.tables",
    "sqlalchemy.dialects.sqlite",
)
# ipywidgets 8's documented switch: with it on, the kernel answers every change the browser sends
# (each tick) with an echo message before the form's own updates, one more trip per tick through the
# server to the page. A form has one page, so there is no second view for the echo to keep in step.
# Read when ipywidgets is imported, i.e. in the template: set before it starts, unless the user chose.
WIDGET_ECHO = "JUPYTER_WIDGETS_ECHO"


class _Template:
    """The server's one template and whether it came up (waited for in a thread, not the event loop)."""

    def __init__(self) -> None:
        os.environ.setdefault(WIDGET_ECHO, "0")  # the template and any kernel launched as usual alike
        self.zygote = Zygote("", "", "", PRELOAD)
        self.ready = threading.Event()
        self.ok = False
        threading.Thread(target=self._wait, daemon=True, name="rubric-kernel-template").start()

    def _wait(self) -> None:
        try:
            self.zygote.wait_ready()
            self.ok = True
        except (TemplateFailed, OSError):
            self.ok = False
        finally:
            self.ready.set()


_TEMPLATE: _Template | None = None


def _ours(cmd: list[str]) -> bool:
    """An IPython kernel of this very interpreter: the only kind the template can become."""
    if not cmd or "-f" not in cmd:
        return False
    try:
        same = Path(cmd[0]).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False
    return same and ("ipykernel_launcher" in cmd or "ipykernel" in cmd)


class LabProvisioner(ForkProvisioner):
    """Forks lab kernels from the server's template once it is ready; otherwise launches as usual."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        template = _TEMPLATE
        if template is not None and _ours(cmd):
            await asyncio.to_thread(template.ready.wait)
            if template.ok:
                env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
                cwd = str(kwargs.get("cwd") or os.getcwd())
                try:
                    pid = await asyncio.to_thread(template.zygote.fork, list(cmd), env, cwd)
                except (TemplateFailed, OSError):
                    pid = None
                if pid is not None:
                    self.process = ForkedProcess(pid)  # type: ignore[assignment]
                    self.pid = self.pgid = pid  # the kernel calls setsid(): it leads its own group
                    self.cwd = cwd
                    return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)  # no template in the server: a usual launch


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "rubric_kernel.lab_kernels"}]


def start_template() -> None:
    """Start the server's template (once), from the thread that lives as long as the server: the
    template dies with that thread's process (``lifetime.die_with_parent``)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = _Template()


_NOTEBOOK_URL = re.compile(r"/lab(?:/workspaces/[^/]+)?/tree/(?P<path>.+\.ipynb)$")


def _notebook_path(url_path: str, base_url: str) -> str | None:
    """The notebook a JupyterLab page URL opens (``/lab/tree/a/b.ipynb`` → ``a/b.ipynb``), else None."""
    if not url_path.startswith(base_url.rstrip("/")):
        return None
    found = _NOTEBOOK_URL.fullmatch(unquote(url_path[len(base_url.rstrip("/")) :]))
    return found["path"] if found else None


async def _start_session(serverapp: Any, path: str) -> None:
    """The session JupyterLab would ask for once the page has loaded, started now: the same path,
    name, type and the notebook's own kernel. The page then finds it and connects instead of starting
    one; a notebook without a kernelspec, or one already running, is left to the page."""
    sessions = serverapp.session_manager
    try:
        if await sessions.session_exists(path=path):
            return
        model = await ensure_async(serverapp.contents_manager.get(path, content=True, type="notebook"))
        kernel = (model["content"].get("metadata") or {}).get("kernelspec", {}).get("name")
        if kernel and not await sessions.session_exists(path=path):
            await sessions.create_session(path=path, name=model["name"], type="notebook", kernel_name=kernel)
    except Exception as exc:  # whatever failed, the page starts its kernel itself, as it always could
        serverapp.log.warning("rubric-kernel: kernel for %s not started early: %s", path, exc)


def _early_sessions(serverapp: Any) -> None:
    """Start a notebook's kernel when its page is requested, seconds before the page would ask.

    Uses jupyterlab_server's documented ``page_config_hook`` setting, called for every JupyterLab page
    request (already authenticated); a hook set before is kept and called first."""
    settings = serverapp.web_app.settings
    previous = settings.get("page_config_hook")
    base_url = settings.get("base_url", "/")

    def hook(handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
        if previous is not None:
            page_config = previous(handler, page_config)
        path = _notebook_path(handler.request.path, base_url)
        if path is not None:
            task = asyncio.ensure_future(_start_session(serverapp, path))
            _STARTING.add(task)
            task.add_done_callback(_STARTING.discard)
        return page_config

    settings["page_config_hook"] = hook


_STARTING: set[asyncio.Future] = set()  # the sessions being started (a task needs a reference)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Start the template now, while the browser is still loading the page."""
    start_template()
    _early_sessions(serverapp)
    serverapp.log.info("rubric-kernel: kernel template starting (lab kernels are forked from it)")
