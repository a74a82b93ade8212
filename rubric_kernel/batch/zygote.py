"""Fresh kernels in milliseconds: fork each one from a template process that has already imported everything.

Starting a Python kernel costs about half a second and importing what the notebook needs
(IPython, pydantic, SQLAlchemy, the package) more than a second, every institution. The
zygote pays that once per worker: it imports, then waits on a Unix socket; for each kernel it forks a
child that becomes a brand-new ``IPKernelApp`` on the connection file jupyter_client wrote. Every
institution still runs in its own fresh process with no state from any other; only the imports are
shared (copy-on-write).

``ForkKernelManager`` plugs this into nbclient/papermill through ``kernel_manager_class``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import DottedObjectName, Type

PRELOAD = ("rubric_kernel.notebook", "rubric_kernel.report.sections")


# ---------------------------------------------------------------------------------------- server
def _preload(data: str, db: str, as_of: str) -> None:
    import importlib

    import ipykernel.kernelapp  # noqa: F401 - the expensive part of a kernel start

    for name in PRELOAD:
        importlib.import_module(name)
    from ..cohort import cohort_for
    from ..evidence import parse_date
    from ..store import Store
    from ..workspace import load_workspace_cached

    ws = load_workspace_cached(data or None)
    if db:  # an optimisation only: the kernels recompute whatever this could not
        store = Store(db)
        try:
            cohort_for(ws, store, parse_date(as_of) if as_of else ws.dataset.as_of)
        except Exception as exc:  # each notebook reports its own input faults; this only warms a cache
            print(
                f"提示：内核模板未能预先计算全体机构评分（{type(exc).__name__}），各工作簿将自行计算。", file=sys.stderr
            )
        finally:
            store.close()  # no connection may cross a fork


def _become_kernel(request: dict) -> None:
    """In the forked child: a new session, the caller's environment and folder, then the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    _die_with_parent()  # not inherited across fork: a kernel must not outlive its template
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    argv = request["argv"]
    args = argv[argv.index("-f") :]  # the connection file and any extra kernel arguments
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize([*args, "--IPKernelApp.quiet=True"])
    app.start()


def _die_with_parent() -> None:
    """Linux: be sent SIGTERM when the worker that started us dies (even by kill -9), so no template lingers."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(sock_path: str, data: str, db: str, as_of: str) -> None:
    _die_with_parent()
    _preload(data, db, as_of)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel, no zombies
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(8)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nobody reads the pipe after "ready"; a full pipe must never block a kernel
    while True:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as fh:
            line = fh.readline()
            if not line:
                continue
            request = json.loads(line)
            if request.get("op") == "exit":
                return
            pid = os.fork()
            if pid == 0:
                server.close()
                code = 0
                try:
                    _become_kernel(request)
                except BaseException:
                    code = 1
                os._exit(code)
            fh.write(json.dumps({"pid": pid}).encode() + b"\n")
            fh.flush()


# ---------------------------------------------------------------------------------------- client
class Zygote:
    """The worker's handle on its zygote process."""

    current: Zygote | None = None

    def __init__(self, data: str, db: str, as_of: str, folder: Path):
        self.sock = str(folder / f"zygote-{os.getpid()}-{uuid.uuid4().hex[:8]}.sock")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", RUBRIC_KERNEL_ZYGOTE_DB=db)  # not argv: ps shows argv
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rubric_kernel.batch.zygote", self.sock, data, as_of],
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        ready = self.proc.stdout.readline() if self.proc.stdout else b""
        if ready.strip() != b"ready":
            raise RuntimeError("内核模板进程启动失败")

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.sock)
            s.sendall(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
            reply = s.makefile("rb").readline()
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.sock)
                s.sendall(b'{"op": "exit"}\n')
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        Path(self.sock).unlink(missing_ok=True)


class ForkedProcess:
    """Enough of ``subprocess.Popen`` for jupyter_client, for a process that is not our child."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.005)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                self.returncode = 0

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        zygote = Zygote.current
        if zygote is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        self.process = ForkedProcess(zygote.fork(list(cmd), env, cwd))  # type: ignore[assignment]
        self.pid = self.process.pid
        self.pgid = self.pid
        self.cwd = cwd
        return self.connection_info

    async def wait(self) -> int | None:
        """As LocalProvisioner's, polling every 5 ms instead of 100 ms: a shutdown is on the critical path."""
        import asyncio

        if self.process is None:
            return 0
        while self.process.poll() is None:
            await asyncio.sleep(0.005)
        ret = self.process.wait()
        self.process = None
        return ret


class QuickReadyClient(AsyncKernelClient):
    """Ready as soon as the kernel answers and IOPub delivers, without the stock client's 0.2 s linger.

    jupyter_client's ready check ends by waiting 0.2 s for more IOPub traffic to flush; the messages
    it would flush belong to the kernel_info exchange, which nbclient ignores anyway (it only reads
    messages whose parent is its own request). On a 0.6 s kernel lifetime that wait is a third.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (timeout if timeout is not None else 60)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)  # IOPub connected: a status message arrived
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("内核在就绪前退出")
            if time.monotonic() > deadline:
                raise RuntimeError("内核未在规定时间内就绪")
        while True:  # drain what is already queued, without waiting for more
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break


class ForkKernelManager(AsyncKernelManager):
    client_class = DottedObjectName("rubric_kernel.batch.zygote.QuickReadyClient")
    client_factory = Type(klass=QuickReadyClient)

    async def _async_pre_start_kernel(self, **kw: Any):
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], os.environ.pop("RUBRIC_KERNEL_ZYGOTE_DB", ""), sys.argv[3])
