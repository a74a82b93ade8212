"""How the batch's notebooks get their kernels: a kernel spec, its manager and a quicker client.

The kernel spec names the fork provisioner in its metadata, the documented way to choose a
provisioner; it is served by a ``KernelSpecManager`` rather than installed in a Jupyter data folder,
so nothing is written to disk and nothing is left behind when a batch is killed. papermill receives
``BatchKernelManager`` as nbclient's ``kernel_manager_class``.

``QuickReadyClient`` is the one remaining override with no public hook (jupyter_client offers no
setting for its ready check's 0.2 s IOPub linger); ``CHECKED_AGAINST`` lists the versions it was
checked against, and a test fails on others. Its sockets come from one ZeroMQ context per process
that retries a refused connection after ``RECONNECT_MS`` rather than ZeroMQ's default 100 ms: the
client connects as soon as the kernel is forked, before the kernel has bound its sockets, so every
kernel start waited out one such retry (half of a trivial notebook's lifetime).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client import protocol_version_info
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type, default

from . import provisioner

KERNEL_NAME = "rubric-kernel-batch"

# Each library version the batch's remaining reliance on behaviour without a public hook was read against.
CHECKED_AGAINST: dict[str, tuple[str, str]] = {
    "jupyter_client": (
        "8.10.0",
        "QuickReadyClient replaces its ready check (no setting for the 0.2 s IOPub linger); ForkProvisioner "
        "relies on LocalProvisioner signalling and polling its kernel only through ``process``, ``pid`` and ``pgid``, "
        "and on the manager setting ``shutting_down`` before it interrupts a kernel it is about to kill",
    ),
    "nbclient": ("0.11.0", "QuickReadyClient assumes it reads only messages whose parent is its own request"),
    "nbconvert": (
        "7.17.2",
        "the report exporter assumes classic/base.html.j2 needs no filter beyond TemplateExporter's and highlight_code",
    ),
    "papermill": ("2.7.0", "kernel_name and kernel_manager_class reach nbclient through its engine keyword arguments"),
}


def kernel_spec() -> KernelSpec:
    """The stock IPython kernel command, provisioned by the fork provisioner."""
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3（评估批量）",
        language="python",
        metadata={"kernel_provisioner": {"provisioner_name": provisioner.NAME}},
    )


class BatchKernelSpecs(KernelSpecManager):
    """The installed kernel specs, plus the batch's own under ``KERNEL_NAME``."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            return kernel_spec()
        return super().get_kernel_spec(kernel_name)


RECONNECT_MS = 5  # retry interval of a refused connection to a kernel still binding its sockets


@functools.cache
def _client_context() -> zmq.asyncio.Context:
    """This process's context for kernel clients: ZeroMQ applies its default options to every socket
    it creates. Shared by the process's clients, and so never destroyed with one of them."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
    return context


class QuickReadyClient(AsyncKernelClient):
    """Ready as soon as the kernel answers and IOPub delivers, without the stock client's 0.2 s linger.

    jupyter_client's ready check ends by waiting 0.2 s for more IOPub traffic to flush; the messages
    it would flush belong to the kernel_info exchange, which nbclient ignores anyway (it only reads
    messages whose parent is its own request). On a 0.6 s kernel lifetime that wait is a third.
    """

    @default("context")
    def _quick_reconnect_context(self) -> zmq.asyncio.Context:
        return _client_context()

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
                    self._adapt_protocol(reply)
                    break
            if not await self.is_alive():
                raise RuntimeError("内核在就绪前退出")
            if time.monotonic() > deadline:
                raise RuntimeError("内核未在规定时间内就绪")
        while True:  # drain what is already queued, without waiting for more
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break

    def _adapt_protocol(self, reply: dict) -> None:
        """Speak the kernel's major protocol version, as the stock ready check does."""
        major = int(reply["content"]["protocol_version"].split(".")[0])
        if major != protocol_version_info[0]:
            self.session.adapt_version = major


SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path (sockaddr_un), terminating NUL excluded
SOCKET_FOLDER_PREFIX = "rk-sockets-"


@functools.cache
def _socket_folder() -> Path:
    """This process's folder for its kernels' sockets, removed when it exits.

    Under the temporary folder when its path leaves room for the socket names, else under /tmp: a test
    or a user's TMPDIR can be long enough to push a socket path past what the kernel can bind. The
    folder's name carries this process's id, so the next worker can remove what a killed one left
    (``kill -9`` and the kernel's death-with-parent signal run no exit handlers)."""
    base = Path(tempfile.gettempdir())
    if len(str(base).encode()) > SOCKET_PATH_MAX - 40:
        base = Path("/tmp")
    sweep_socket_folders(base)
    folder = Path(tempfile.mkdtemp(prefix=f"{SOCKET_FOLDER_PREFIX}{os.getpid()}-", dir=base))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def sweep_socket_folders(base: Path) -> list[Path]:
    """Remove this user's socket folders in ``base`` whose process no longer runs; return them."""
    removed = []
    for folder in base.glob(f"{SOCKET_FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(SOCKET_FOLDER_PREFIX).split("-", 1)[0]
        try:
            if not pid.isdigit() or folder.lstat().st_uid != os.getuid() or _running(int(pid)):
                continue
        except OSError:  # gone meanwhile
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process: a zombie (killed, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (not Linux): trust the signal check
        return True
    return state != "Z"


class BatchKernelManager(AsyncKernelManager):
    """Kernels over Unix sockets, not TCP: each worker picks its kernels' TCP ports itself, so two workers
    could pick the same free port and one kernel died binding it ("内核在就绪前退出", about once in a
    thousand starts); a socket file is named per kernel and only this user can reach it."""

    client_class = DottedObjectName(f"{__name__}.QuickReadyClient")
    client_factory = Type(klass=QuickReadyClient)

    @default("transport")
    def _unix_sockets(self) -> str:
        return "ipc"

    @default("ip")
    def _socket_prefix(self) -> str:  # the kernel appends "-<port>" to it
        return str(_socket_folder() / uuid.uuid4().hex[:8])

    @default("kernel_spec_manager")
    def _batch_kernel_specs(self) -> KernelSpecManager:
        return BatchKernelSpecs(data_dir=self.data_dir)
