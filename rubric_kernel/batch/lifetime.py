"""Processes of the batch die with their parent, even when the parent is killed with SIGKILL.

Linux's ``PR_SET_PDEATHSIG`` has the kernel itself deliver SIGKILL to a process when its parent
exits, however the parent ends, and whatever the child is doing at that moment (importing, blocked
in a C call, forking). A watcher thread on a pipe from the parent would need the GIL and an event
loop in every process, and could not stop a process stuck in native code; the flag costs one system
call. The worker → kernel template → kernel chain sets it at each link, so killing the batch's
main process takes every descendant with it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Be killed when ``parent`` (the pid that started us) exits; exit now if it already has.

    The flag is tied to the thread that created this process, so callers start their children from
    a thread that lives as long as the children (the main thread, in the batch). Outside Linux this
    does nothing: there the template still exits when its socket to the worker closes.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent exited before the flag was set: nobody will signal us
        os._exit(1)
