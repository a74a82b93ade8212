"""Bounds of the batch's options, importable without papermill (the parser needs them)."""

from __future__ import annotations

import os

MAX_WORKERS = 32  # each worker holds a kernel template and a kernel: more than this only thrashes


def default_workers() -> int:
    """One worker per usable core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))
