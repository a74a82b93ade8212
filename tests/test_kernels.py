"""The batch's kernels: found through jupyter_client's provisioner entry point, forked from a template
that only its worker can reach, and the library versions the remaining overrides were checked against."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import zmq
from jupyter_client.provisioning import KernelProvisionerFactory

from rubric_kernel.batch import kernels, provisioner
from rubric_kernel.batch.execute import execute_notebook
from rubric_kernel.batch.kernels import CHECKED_AGAINST, KERNEL_NAME, SOCKET_PATH_MAX, BatchKernelManager, kernel_spec
from rubric_kernel.batch.provisioner import ForkProvisioner
from rubric_kernel.batch.zygote import Zygote


def test_provisioner_is_found_through_its_entry_point():
    factory = KernelProvisionerFactory.instance()
    entries = factory.get_provisioner_entries()
    assert entries.get(provisioner.NAME) == "rubric_kernel.batch.provisioner:ForkProvisioner", (
        "the entry point is missing: reinstall the package (pip install -e .) after changing pyproject.toml"
    )
    spec = kernel_spec()
    assert factory.is_provisioner_available(spec)
    made = factory.create_provisioner_instance("k-1", spec, parent=None)
    assert type(made) is ForkProvisioner


def test_batch_kernel_manager_serves_the_batch_kernel_spec():
    km = BatchKernelManager(kernel_name=KERNEL_NAME)
    assert km.kernel_spec.metadata["kernel_provisioner"]["provisioner_name"] == provisioner.NAME
    assert km.kernel_spec.argv[-2:] == ["-f", "{connection_file}"]
    # other names still come from the installed kernel specs
    assert BatchKernelManager(kernel_name="python3").kernel_spec.language == "python"


def test_batch_kernels_talk_over_sockets_of_their_own_not_tcp_ports(tmp_path):
    """Two workers picking TCP ports each for itself could pick the same one: a kernel then died binding it."""
    a, b = (BatchKernelManager(kernel_name=KERNEL_NAME) for _ in range(2))
    assert (a.transport, b.transport) == ("ipc", "ipc")
    assert a.ip != b.ip and Path(a.ip).parent == Path(b.ip).parent
    assert len(f"{a.ip}-65535".encode()) <= SOCKET_PATH_MAX  # the longest socket path the kernel will bind
    path = tmp_path / "one.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), path)
    assert execute_notebook({}, path).cells[0].outputs[0]["data"]["text/plain"] == "2"
    assert not list(Path(a.ip).parent.iterdir()), "each kernel's socket files are removed at its shutdown"


def test_batch_clients_retry_a_kernel_still_binding_its_sockets_at_once():
    """The client connects as soon as the kernel is forked, before the kernel has bound its sockets: with
    ZeroMQ's default retry interval (100 ms) every kernel start waited one out."""
    first, second = (BatchKernelManager(kernel_name=KERNEL_NAME).client() for _ in range(2))
    assert first.context is second.context, "one context per process, not one (and its I/O thread) per kernel"
    probe = first.context.socket(zmq.DEALER)
    try:
        assert probe.getsockopt(zmq.RECONNECT_IVL) == kernels.RECONNECT_MS < 100
    finally:
        probe.close()


def test_a_long_temporary_folder_does_not_push_socket_paths_past_the_limit(tmp_path, monkeypatch):
    long = tmp_path / ("x" * 60) / ("y" * 60)
    long.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    kernels._socket_folder.cache_clear()
    try:
        ip = BatchKernelManager(kernel_name=KERNEL_NAME).ip
        assert len(f"{ip}-65535".encode()) <= SOCKET_PATH_MAX, ip
    finally:
        kernels._socket_folder.cache_clear()


def test_socket_folders_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    """kill -9 runs no exit handler: the next worker removes the folders whose process is gone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{kernels.SOCKET_FOLDER_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{kernels.SOCKET_FOLDER_PREFIX}{os.getpid()}-def"
    other = tmp_path / "rk-something-else"
    for folder in (gone, live, other):
        folder.mkdir()
        (folder / "kernel-1").write_text("")
    assert kernels.sweep_socket_folders(tmp_path) == [gone]
    assert not gone.exists() and live.exists() and other.exists()


def test_checked_library_versions():
    """Where no public hook exists the batch relies on library behaviour read at these versions."""
    changed = []
    for name, (checked, reliance) in CHECKED_AGAINST.items():
        installed = metadata.version(name)
        if installed != checked:
            changed.append(f"{name} {installed} is installed, checked against {checked}: {reliance}")
    assert not changed, (
        "re-check what the batch relies on, then update CHECKED_AGAINST in rubric_kernel/batch/kernels.py:\n"
        + "\n".join(changed)
    )


# ---------------------------------------------------------------------------------------- the template
@pytest.fixture
def template():
    made = Zygote("", "", "")
    made.wait_ready()
    ForkProvisioner.template = made
    try:
        yield made
    finally:
        ForkProvisioner.template = None
        made.close()


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _named_unix_sockets() -> dict[str, str]:
    """inode → path of every Unix socket bound to a name (abstract or in the file system)."""
    named = {}
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8:
            named[fields[6]] = fields[7]
    return named


@pytest.mark.skipif(not Path("/proc/net/unix").exists(), reason="reads Linux /proc")
def test_template_has_no_socket_anyone_else_could_reach(template):
    ours = _socket_inodes(template.proc.pid)
    assert ours, "the template holds its end of the channel"
    named = _named_unix_sockets()
    assert not {i: named[i] for i in ours if i in named}


def _kernel_parent(tmp_path: Path) -> tuple[int, bool]:
    """Run a probe notebook the way the batch does; the kernel's parent pid and whether it leads its group."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getppid(), os.getpid() == os.getpgid(0))")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    done = execute_notebook({}, path, tmp_path)
    parent, leads_group = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", [])).split()
    return int(parent), leads_group == "True"


@pytest.mark.slow
def test_notebook_kernel_is_forked_from_the_template(template, tmp_path):
    parent, leads_group = _kernel_parent(tmp_path)
    assert parent == template.proc.pid
    assert leads_group, "the kernel leads its own process group, so signals reach only it"


@pytest.mark.slow
def test_batch_kernels_keep_no_input_history(template, tmp_path):
    """IPython's history is one SQLite file that every worker's kernels would write and lock in turn."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(get_ipython().history_manager.enabled)")]
    path = tmp_path / "history.ipynb"
    nbformat.write(nb, path)
    done = execute_notebook({}, path, tmp_path)
    assert done.cells[0].outputs[0]["text"].strip() == "False"


@pytest.mark.slow
def test_a_killed_forked_kernel_is_gone_when_kill_returns(template):
    """jupyter_client's manager looks once after the kill and, finding the kernel alive, sleeps 0.1 s
    before looking again: a tenth of a second per institution unless ``kill`` waits the kernel out."""
    import asyncio

    async def start_and_kill() -> tuple[int, int | None]:
        km = BatchKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel()
        try:
            pid = km.provisioner.pid
            await km.provisioner.kill()
            return pid, km.provisioner.process.poll()
        finally:
            await km.shutdown_kernel(now=True)

    pid, status = asyncio.run(start_and_kill())
    assert status is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
def test_a_kernel_being_shut_down_is_killed_without_the_interrupt(template, monkeypatch):
    """An interrupt on the way to a kill only made a kernel caught mid-message log an error."""
    import asyncio

    sent: list[int] = []
    killpg = os.killpg
    monkeypatch.setattr(os, "killpg", lambda pgid, signum: (sent.append(signum), killpg(pgid, signum)))

    async def start_interrupt_and_shut_down() -> None:
        km = BatchKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel()
        await km.interrupt_kernel()  # an interrupt outside a shutdown goes through
        await km.shutdown_kernel(now=True)

    asyncio.run(start_interrupt_and_shut_down())
    assert sent == [signal.SIGINT, signal.SIGKILL]


@pytest.mark.slow
def test_without_a_template_the_kernel_is_launched_as_usual(tmp_path):
    assert ForkProvisioner.template is None
    assert _kernel_parent(tmp_path)[0] == os.getpid()


KERNEL_START = """
import os, sys, tempfile
from jupyter_client.connect import write_connection_file
from rubric_kernel.batch.zygote import _preload
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace
with Store(os.environ["RUBRIC_KERNEL_DB"]) as store:
    bootstrap(store, load_workspace())  # as the batch command does before it starts the workers
_preload("", os.environ["RUBRIC_KERNEL_DB"], "")
import rubric_kernel.cohort as cohort, rubric_kernel.workspace as workspace
redone = []
def counted(name, fn):
    return lambda *args, **kwargs: redone.append(name) or fn(*args, **kwargs)
cohort.score_sheets = counted("score_sheets", cohort.score_sheets)  # what cohort_for scores with
workspace.load_programme = counted("load_programme", workspace.load_programme)
import rubric_kernel.workflow.collection as collection
collection.record_types = counted("record_types", collection.record_types)
before = set(sys.modules)
from ipykernel.kernelapp import IPKernelApp
connection, _ = write_connection_file(os.path.join(tempfile.mkdtemp(), "kernel.json"))
IPKernelApp.instance().initialize(["-f", connection, "--IPKernelApp.quiet=True"])
from rubric_kernel.assessment import open_assessment
from rubric_kernel.report.loader import load_context
from rubric_kernel.report.render import environment, report_body
compiled = []
jinja, compile_template = environment(), environment().compile
jinja.compile = lambda *args, **kwargs: compiled.append(args) or compile_template(*args, **kwargs)
report_body(load_context(open_assessment("13", mode="report")))
print("imported:", *sorted(set(sys.modules) - before), file=sys.__stdout__, flush=True)
print("compiled:", len(compiled), file=sys.__stdout__, flush=True)
print("redone:", *redone, file=sys.__stdout__, flush=True)
os._exit(0)
"""


def test_the_template_preloads_what_a_kernel_imports(tmp_path):
    """A forked kernel must not import its kernel class, debugger (debugpy), IPython's parts or the
    report's modules, compile the report's templates, score the cohort for the comparison or parse the
    programme and the record types to collect, once per institution: the template has them."""
    env = {**os.environ, "RUBRIC_KERNEL_DB": f"sqlite:///{tmp_path / 'store.sqlite'}"}
    done = subprocess.run([sys.executable, "-c", KERNEL_START], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    imported = next(line for line in done.stdout.splitlines() if line.startswith("imported:")).split()[1:]
    heavy = (
        "ipykernel",
        "IPython",
        "debugpy",
        "pydevd",
        "_pydevd",
        "jupyter_client",
        "zmq",
        "tornado",
        "rubric_kernel",
        "sqlalchemy",  # a report only reads the store: plain SQL (sqlite_reads), no engine
        "alembic",
    )
    assert [m for m in imported if m.split(".")[0] in heavy] == []
    assert "compiled: 0" in done.stdout.splitlines(), "the report's Jinja templates are compiled in the template"
    assert "redone:" in done.stdout.splitlines(), "the cohort is scored and the programme parsed in the template"


def test_template_exits_when_its_worker_closes_the_channel():
    made = Zygote("", "", "")
    made.wait_ready()
    made.close()
    assert made.proc.returncode == 0, "exited by itself, not killed after the grace period"


# ---------------------------------------------------------------------------------------- lifetime
def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_whose_parent_is_already_gone_exits_at_once():
    """The race the flag cannot cover: the parent died before the child set it."""
    code = "from rubric_kernel.batch.lifetime import die_with_parent\ndie_with_parent({parent})\nprint('alive')"
    assert _run_python(code.format(parent=os.getpid())).stdout.strip() == "alive"
    orphaned = _run_python(code.format(parent=os.getpid() + 1_000_000))  # not its parent: as if reparented
    assert orphaned.returncode == 1 and "alive" not in orphaned.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_dies_with_its_parent_killed_by_sigkill():
    # the middle process starts a child that sets the flag, reports its pid, and is then killed with SIGKILL
    child = "import os, time\nfrom rubric_kernel.batch.lifetime import die_with_parent\ndie_with_parent(os.getppid())\nprint('ready', flush=True)\ntime.sleep(600)"
    middle = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE, text=True)\n"
        "assert p.stdout.readline().strip() == 'ready'\n"
        "print(p.pid, flush=True)\n"
        "import time; time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", middle], stdout=subprocess.PIPE, text=True)
    grandchild = int(proc.stdout.readline())
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(grandchild), "the child outlived its parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state
