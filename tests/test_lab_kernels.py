"""The expert's JupyterLab kernels: forked from the server's preloaded template, chosen through
jupyter_client's documented default-provisioner setting, and launched as usual when not ours; and the
JupyterLab page config that leaves out the plugins an expert never uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory
from lab_driver import SERVER_CONFIG

from rubric_kernel import lab_kernels


def test_project_server_config_selects_the_extension_and_the_provisioner():
    cfg = json.loads((SERVER_CONFIG / "jupyter_server_config.json").read_text(encoding="utf-8"))
    assert cfg["ServerApp"]["jpserver_extensions"] == {"rubric_kernel.lab_kernels": True}
    name = cfg["KernelProvisionerFactory"]["default_provisioner_name"]
    assert name == lab_kernels.NAME
    entries = KernelProvisionerFactory.instance().get_provisioner_entries()
    assert entries.get(name) == "rubric_kernel.lab_kernels:LabProvisioner", "reinstall: pip install -e ."


@pytest.mark.parametrize(
    ("cmd", "ours"),
    [
        ([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"], True),
        ([sys.executable, "-m", "ipykernel_launcher"], False),  # no connection file to become
        (["/usr/bin/R", "--slave", "-e", "IRkernel::main()", "--args", "-f", "k.json"], False),
        (["/no/such/python", "-m", "ipykernel_launcher", "-f", "k.json"], False),
        ([], False),
    ],
)
def test_only_this_interpreters_ipython_kernels_are_forked(cmd, ours):
    assert lab_kernels._ours(cmd) is ours


def _run(kc, code: str) -> str:
    """What the code printed in the kernel."""
    out: list[dict] = []
    reply = kc.execute_interactive(code, timeout=60, output_hook=out.append)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")


@pytest.fixture
def template(monkeypatch):
    monkeypatch.delenv(lab_kernels.WIDGET_ECHO, raising=False)  # restored after the test
    made = lab_kernels._Template()
    monkeypatch.setattr(lab_kernels, "_TEMPLATE", made)
    yield made
    made.zygote.close()


def test_lab_kernel_is_a_fork_of_the_preloaded_template(template, tmp_path, monkeypatch):
    # As the server config sets it (a standalone manager has no parent to pass config through).
    monkeypatch.setattr(KernelProvisionerFactory.instance(), "default_provisioner_name", lab_kernels.NAME)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert template.ok
        got = _run(kc, "import os, sys; print(os.getppid(), 'rubric_kernel.form' in sys.modules, os.getcwd())")
        parent, preloaded, cwd = got.split()
        assert int(parent) == template.zygote.proc.pid  # forked, not spawned by the manager
        assert preloaded == "True"
        assert cwd == str(tmp_path)
        assert _run(kc, "x = 41; print(x + 1)").strip() == "42"  # an ordinary, working kernel
        # No widget echo per tick: the form's updates are the only messages back to the page.
        assert _run(kc, "from ipywidgets.widgets import widget; print(widget.JUPYTER_WIDGETS_ECHO)").strip() == "False"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not km.is_alive()


def test_page_config_disables_only_installed_plugins_and_jupyterlab_reads_it(monkeypatch):
    """A misspelt name would silently disable nothing; the config must be where JupyterLab looks."""
    import jupyterlab
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_page_config

    disabled = json.loads((SERVER_CONFIG / "labconfig" / "page_config.json").read_text(encoding="utf-8"))
    names = set(disabled["disabledExtensions"])
    core = json.loads((Path(jupyterlab.__file__).parent / "static" / "package.json").read_text(encoding="utf-8"))
    labext = [Path(d) for d in jupyter_path("labextensions")]
    federated = {
        json.loads(p.read_text(encoding="utf-8"))["name"]
        for d in labext
        for p in d.glob("**/package.json")
        if "static" not in p.parts
    }
    packages = {name.split(":")[0] for name in names}  # "package" or "package:plugin"
    assert packages <= set(core["jupyterlab"]["extensions"]) | federated, (
        packages - set(core["jupyterlab"]["extensions"]) - federated
    )
    bundle = "".join(p.read_text(encoding="utf-8") for p in (Path(jupyterlab.__file__).parent / "static").glob("*.js"))
    plugins = {name for name in names if ":" in name}
    assert all(f'"{name}"' in bundle for name in plugins), [n for n in plugins if f'"{n}"' not in bundle]
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(SERVER_CONFIG))
    read = get_page_config([str(d) for d in labext])
    got = read["disabledExtensions"]  # a list of names once merged across config folders
    assert set(got if isinstance(got, list) else (k for k, v in got.items() if v)) >= names
    assert read["buildCheck"] is False and read["buildAvailable"] is False  # no build check on every load


@pytest.mark.parametrize(
    ("url", "base", "path"),
    [
        ("/lab/tree/a.ipynb", "/", "a.ipynb"),
        ("/lab/tree/d/%E8%AF%84%E4%BC%B0.ipynb", "/", "d/评估.ipynb"),
        ("/lab/workspaces/w/tree/x.ipynb", "/", "x.ipynb"),
        ("/user/bob/lab/tree/a.ipynb", "/user/bob/", "a.ipynb"),
        ("/lab/tree/a.ipynb", "/user/bob/", None),
        ("/lab", "/", None),
        ("/lab/tree/a.py", "/", None),
        ("/api/contents/a.ipynb", "/", None),
    ],
)
def test_only_a_notebook_page_starts_a_session_early(url, base, path):
    assert lab_kernels._notebook_path(url, base) == path


class _Sessions:
    """Records the sessions asked for, as jupyter_server's SessionManager would make them."""

    def __init__(self, running: set[str]):
        self.running = running
        self.made: list[dict] = []

    async def session_exists(self, path):
        return path in self.running

    async def create_session(self, **model):
        self.made.append(model)
        self.running.add(model["path"])


def _server(tmp_path, running=()):
    from types import SimpleNamespace

    from jupyter_server.services.contents.filemanager import FileContentsManager

    log = SimpleNamespace(warning=lambda *a: None)
    return SimpleNamespace(
        session_manager=_Sessions(set(running)),
        contents_manager=FileContentsManager(root_dir=str(tmp_path)),
        log=log,
        web_app=SimpleNamespace(settings={"base_url": "/"}),
    )


def test_a_requested_notebook_page_gets_its_kernel_session_once(tmp_path):
    import asyncio
    from types import SimpleNamespace

    import nbformat

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(nb, tmp_path / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "bare.ipynb")  # no kernel named: the page asks
    server = _server(tmp_path, running={"old.ipynb"})
    lab_kernels._early_sessions(server)
    hook = server.web_app.settings["page_config_hook"]

    async def open_pages():
        for url in ("/lab/tree/a.ipynb", "/lab/tree/a.ipynb", "/lab/tree/bare.ipynb", "/lab/tree/old.ipynb"):
            assert hook(SimpleNamespace(request=SimpleNamespace(path=url)), {"x": 1}) == {"x": 1}
            await asyncio.sleep(0.05)
        await asyncio.gather(*lab_kernels._STARTING)

    asyncio.run(open_pages())
    assert server.session_manager.made == [
        {"path": "a.ipynb", "name": "a.ipynb", "type": "notebook", "kernel_name": "python3"}
    ]
