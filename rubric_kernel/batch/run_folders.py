"""A batch's output folder: one folder per run, the ``latest`` link, reuse of earlier outputs, the lock.

A run writes into ``<out>/<run-id>/``; institutions whose inputs are unchanged since their last
success are hard-linked from that run instead of executed; ``<out>/latest`` is switched to the new
run only once it has finished, so readers never see a half-made run. A run killed mid-way leaves a
folder without a manifest, which ``clean_incomplete`` removes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..files import open_lock_file
from . import cohort_pages
from .state import Entry, State


def new_run_id(out: Path) -> str:
    base = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, k = base, 1
    while (out / run_id).exists():
        k += 1
        run_id = f"{base}-{k}"
    return run_id


def link_file(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def reuse_outputs(out: Path, run_dir: Path, n: int, entry: Entry) -> bool:
    """Bring an institution's last good outputs into this run; False when they are gone.

    An entry whose outputs sit in a killed run's folder (no manifest) then points at this run instead, so
    ``batch --clean`` can remove that folder without losing them.
    """
    src = out / entry.run
    files = [src / f"{n:02d}.ipynb", src / f"{n:02d}.html"]
    if not entry.run or not all(f.exists() for f in files):
        return False
    if src.resolve() != run_dir.resolve():
        for f in files:
            link_file(f, run_dir / f.name)
        if not (src / "manifest.json").exists():
            entry.run = run_dir.name
    return True


def reuse_pages(out: Path, run_dir: Path, pages: str) -> bool:
    """Link the cohort tables from the run ``latest`` shows when they were made from the same inputs
    (``pages``, recorded in its manifest); False when they must be written."""
    previous = out / "latest"
    try:
        recorded = json.loads((previous / "manifest.json").read_text(encoding="utf-8")).get("pages")
    except (OSError, ValueError):
        return False
    files = [previous / name for name in cohort_pages.TABLES]
    if recorded != pages or not all(f.is_file() for f in files):
        return False
    for f in files:
        link_file(f, run_dir / f.name)
    return True


def switch_latest(out: Path, run_id: str) -> None:
    tmp = out / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_id, target_is_directory=True)
    os.replace(tmp, out / "latest")


def remove_leftovers(out: Path) -> None:
    """Temporary files of a run that was killed mid-write (never visible under a report's name)."""
    for part in [*out.glob(".*.part"), *out.glob("*/.*.part")]:
        part.unlink(missing_ok=True)


class BatchBusy(RuntimeError):
    pass


RUN_ID = re.compile(r"\d{8}-\d{6}(?:-\d+)?")


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """One batch per output folder at a time: a second would delete the first's files in flight."""
    import fcntl

    try:
        fd = open_lock_file(out / ".lock")
    except OSError:
        raise BatchBusy(f"输出目录 {out} 中的 .lock 不是普通文件（可能是符号链接），已拒绝使用；请删除后重试") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusy(f"另一个批量任务正在使用输出目录 {out}，请等待其结束") from None
        yield
    finally:
        os.close(fd)


def incomplete_runs(out: Path) -> list[Path]:
    """Run folders left by killed runs: named like a run, no manifest (written last), not what latest shows."""
    if not out.is_dir():
        return []
    latest = out / "latest"
    shown = os.readlink(latest) if latest.is_symlink() else ""
    return sorted(
        d
        for d in out.iterdir()
        if RUN_ID.fullmatch(d.name)
        and d.is_dir()
        and not d.is_symlink()
        and d.name != shown
        and not (d / "manifest.json").exists()
    )


def clean_incomplete(out: Path) -> list[Path]:
    """Remove the folders of killed runs (only those); state entries that pointed into them are forgotten."""
    if not out.is_dir():
        return []
    with locked(out):
        stale = incomplete_runs(out)
        if not stale:
            return []
        state = State.load(out)
        names = {d.name for d in stale}
        for n, entry in list(state.entries.items()):
            if entry.run in names:
                del state.entries[n]  # its outputs go with the folder: the next run executes it again
        state.save()
        for d in stale:
            shutil.rmtree(d)
        return stale
