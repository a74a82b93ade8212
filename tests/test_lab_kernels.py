"""The expert's JupyterLab kernels: forked from the server's preloaded template, chosen through
jupyter_client's documented default-provisioner setting, and launched as usual when not ours."""

from __future__ import annotations

import json
import sys

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
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not km.is_alive()
