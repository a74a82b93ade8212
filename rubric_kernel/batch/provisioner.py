"""A jupyter_client kernel provisioner that forks kernels from the worker's template process.

Registered under the ``jupyter_client.kernel_provisioners`` entry point as ``rubric-kernel-fork``
(see pyproject.toml) and selected by the batch's kernel spec (``kernels.py``), so jupyter_client
finds and drives it through its documented provisioner API: ``pre_launch`` (ports, connection file)
is LocalProvisioner's, ``launch_kernel`` asks the template for a fork instead of spawning a process,
and signalling, polling and killing work on the forked pid.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from typing import Any, ClassVar

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from .zygote import Zygote

NAME = "rubric-kernel-fork"  # the entry point's name, as the kernel spec refers to it
KILL_GRACE = 1.0  # seconds a killed kernel is awaited in ``kill``; the manager's own wait takes over after


class ForkedProcess:
    """Enough of ``subprocess.Popen`` for LocalProvisioner, for a process that is not our child.

    The template reaps its children, so the exit status is not ours to read: an ended kernel reads 0.
    """

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
    """Forks from ``template`` when this process has one (a batch worker); launches normally otherwise."""

    template: ClassVar[Zygote | None] = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if self.template is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        self.process = ForkedProcess(self.template.fork(list(cmd), env, cwd))  # type: ignore[assignment]
        self.pid = self.process.pid
        self.pgid = self.pid  # the kernel calls setsid(): it leads its own process group
        self.cwd = cwd
        return self.connection_info

    async def send_signal(self, signum: int) -> None:
        """As LocalProvisioner's, except the interrupt jupyter_client sends on its way to killing a kernel.

        The batch kills each kernel after its last cell, and the manager interrupts it first; a kernel
        that the interrupt caught inside a message handler logged it as an error ("KeyboardInterrupt
        caught in kernel"), a line in the batch's output about nothing. An interrupt outside a shutdown
        (``shutting_down``, the manager's flag) is sent as usual."""
        if signum == signal.SIGINT and getattr(self.parent, "shutting_down", False):
            return
        await super().send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        """As LocalProvisioner's, then wait the few milliseconds a killed kernel takes to go.

        jupyter_client's manager checks once whether the kernel is gone and, if not, sleeps 0.1 s before
        looking again: without this wait every shutdown lost most of that 0.1 s."""
        await super().kill(restart=restart)
        if isinstance(self.process, ForkedProcess):
            deadline = time.monotonic() + KILL_GRACE
            while self.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.001)

    async def wait(self) -> int | None:
        """As LocalProvisioner's, polling every 5 ms instead of 100 ms: a shutdown is on the critical path."""
        if self.process is None:
            return 0
        while self.process.poll() is None:
            await asyncio.sleep(0.005)
        ret = self.process.wait()
        self.process = None
        return ret
