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
