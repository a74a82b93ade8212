"""Fresh kernels in milliseconds: fork each one from a template process that has already imported everything.

Starting a Python kernel costs about half a second and importing what the notebook needs
(IPython, pydantic, SQLAlchemy, the package) more than a second, every institution. The
template pays that once per worker: it imports, then waits for requests; for each kernel it forks a
child that becomes a brand-new ``IPKernelApp`` on the connection file jupyter_client wrote. Every
institution still runs in its own fresh process with no state from any other; only the imports are
shared (copy-on-write).

The worker talks to its template over an inherited ``socketpair``, not a named socket: nothing is
created in the file system (so kill -9 leaves no socket file behind), and no other process, even of
the same user, can ask the template for a kernel. The template exits when the worker's end closes,
and dies with the worker even when the worker is killed (``lifetime.die_with_parent``).

``provisioner.ForkProvisioner`` plugs this into jupyter_client.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

from .lifetime import die_with_parent

# Everything a kernel would otherwise import after the fork, each time: measured with ``-X importtime``
# and a profile of ``IPKernelApp.initialize`` in a forked child. ``ipykernel.kernelapp`` resolves its
# kernel class, the kernel its debugger class (which imports debugpy, about 150 modules and half a
# second), ``init_pdb`` IPython's debugger, the shell its completer, inspector and extensions only
# when the kernel starts; psutil serves its usage requests. Then what the notebook's cells import:
# the session, the report and its sections. ``tests/test_kernels.py`` checks a kernel start imports
# none of these packages itself.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.utils.wildcard",
    "IPython.extensions.storemagic",
    "tornado.platform.asyncio",
    "psutil",
    "rubric_kernel.notebook",
    "rubric_kernel.report.loader",
    "rubric_kernel.report.render",
)
DB_VARIABLE = "RUBRIC_KERNEL_ZYGOTE_DB"  # the store URL travels in the environment: ps shows argv
EXTRA_VARIABLE = "RUBRIC_KERNEL_ZYGOTE_PRELOAD"  # more modules to preload, comma-separated (lab kernels)


# ---------------------------------------------------------------------------------------- server
def _preload(data: str, db: str, as_of: str) -> None:
    import importlib

    for name in (*PRELOAD, *filter(None, os.environ.pop(EXTRA_VARIABLE, "").split(","))):
        importlib.import_module(name)
    from ..report.render import environment

    templates = environment()
    for template in templates.list_templates():
        templates.get_template(template)  # Jinja compiles each once here, not in every kernel (0.1 s each)
    from ..cohort import cohort_for
    from ..evidence import parse_date
    from ..store import Store
    from ..workspace import KERNEL_WORKSPACES

    ws = KERNEL_WORKSPACES.load(data or None)
    try:  # an optimisation only: the kernels recompute whatever this could not
        _ = ws.rubric_ref, ws.programme, ws.collection_types, ws.static_digests  # once here; every report reads them
        if db:
            with Store(db) as store:  # closed before any fork: no connection may cross one
                cohort_for(ws, store, parse_date(as_of) if as_of else ws.dataset.as_of)
    except Exception as exc:  # each notebook reports its own input faults; this only warms caches
        print(
            f"提示：内核模板未能预先载入全部输入（{type(exc).__name__}），各工作簿将自行载入。",
            file=sys.stderr,
        )


def _become_kernel(request: dict, template: int) -> None:
    """In the forked child: a new session, the caller's environment and folder, then the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    die_with_parent(template)  # not inherited across fork: a kernel must not outlive its template
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


def serve(channel_fd: int, parent: int, data: str, db: str, as_of: str) -> None:
    """Answer the worker's fork requests, one JSON line each, until its end of the channel closes."""
    die_with_parent(parent)
    channel = socket.socket(fileno=channel_fd)
    _preload(data, db, as_of)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel, no zombies
    me = os.getpid()
    with channel, channel.makefile("rwb") as fh:
        fh.write(b"ready\n")
        fh.flush()
        for line in fh:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    fh.close()
                    channel.close()
                    _become_kernel(json.loads(line), me)
                except BaseException:
                    code = 1
                os._exit(code)
            fh.write(json.dumps({"pid": pid}).encode() + b"\n")
            fh.flush()


# ---------------------------------------------------------------------------------------- client
class TemplateFailed(RuntimeError):
    pass


class Zygote:
    """The worker's handle on its kernel template process.

    Starting returns at once (the template preloads while the worker imports its own side);
    ``wait_ready`` blocks until the template can fork.
    """

    def __init__(self, data: str, db: str, as_of: str, preload: tuple[str, ...] = ()):
        ours, theirs = socket.socketpair()
        # PYDEVD_DISABLE_FILE_VALIDATION: debugpy, preloaded, would warn on stderr that Python's frozen
        # modules may hide breakpoints; batch kernels are never debugged.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1", **{DB_VARIABLE: db})
        env[EXTRA_VARIABLE] = ",".join(preload)
        with theirs:
            argv = [sys.executable, "-m", __name__, str(theirs.fileno()), str(os.getpid()), data, as_of]
            self.proc = subprocess.Popen(
                argv, pass_fds=(theirs.fileno(),), stdout=subprocess.DEVNULL, env=env, start_new_session=True
            )
        self._channel = ours
        self._io = ours.makefile("rwb")
        self._lock = threading.Lock()

    def wait_ready(self) -> None:
        if self._io.readline().strip() != b"ready":
            self.close()
            raise TemplateFailed("内核模板进程启动失败")

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A new kernel process for ``argv`` (a kernel command with ``-f <connection file>``); its pid."""
        with self._lock:
            self._io.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
            self._io.flush()
            reply = self._io.readline()
        if not reply:
            raise TemplateFailed("内核模板进程已退出")
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        """Closing our end is the template's signal to exit."""
        self._io.close()
        self._channel.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], os.environ.pop(DB_VARIABLE, ""), sys.argv[4])
