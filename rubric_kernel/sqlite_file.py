"""A SQLite store as a file: is it really an intact SQLite database; create, copy and replace it safely.

The standard library's sqlite3 is used directly and read-only for checking, so that looking at an empty,
foreign or damaged file never writes to it (the store's own connections switch a file to WAL mode, which
rewrites its header). New files appear complete under their name or not at all.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

HEADER = b"SQLite format 3\x00"


class FileProblem(Exception):
    """What is wrong with a file, in Chinese and without its name: the caller names the file and its role."""


@dataclass(frozen=True)
class Contents:
    tables: frozenset[str]
    meta: dict[str, str]


def short(text: str, limit: int = 80) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def read(path: Path, meta_table: str, *, full: bool = False, check: bool = True) -> Contents:
    """The tables and meta rows of an existing file, after SQLite's own check (quick, or ``full``;
    none without ``check``: the file was checked moments ago by the process that vouches for it).

    Raises FileProblem for an empty file, a file that is not SQLite, and a damaged one.
    """
    try:
        if path.stat().st_size == 0:
            raise FileProblem("是空文件（0 字节），可能已被截断或清空")
        with path.open("rb") as fh:
            head = fh.read(len(HEADER))
    except OSError as exc:
        raise FileProblem(f"无法读取（{short(exc.strerror or exc)}）") from None
    if head != HEADER:
        raise FileProblem("不是 SQLite 数据库（文件头不符），可能已损坏，或是别的文件")
    try:
        with closing(_read_only(path)) as conn:
            if check:
                rows = [r[0] for r in conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check")]
                if rows != ["ok"]:
                    raise FileProblem(f"已损坏：SQLite 完整性检查发现 {len(rows)} 处问题（{short(rows[0])}）")
            tables = frozenset(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            meta = dict(conn.execute(f'SELECT key, value FROM "{meta_table}"')) if meta_table in tables else {}
    except sqlite3.DatabaseError as exc:
        raise FileProblem(f"无法作为 SQLite 数据库读取，可能已损坏（{short(exc)}）") from None
    return Contents(tables, meta)


def create_exclusive(path: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary file beside ``path``, then give it that name only if nothing exists there yet.

    Raises FileExistsError when something does: an existing file is never overwritten or truncated, and
    nobody ever sees a half-written (or empty) file under the final name.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where the folder should be: not "the store exists"
        raise NotADirectoryError(errno.ENOTDIR, "上级路径不是目录", str(path.parent)) from None
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        fill(tmp)
        os.chmod(tmp, 0o644)  # as SQLite itself would create it, not mkstemp's private 0600
        try:
            os.link(tmp, path)  # atomic and exclusive
        except FileExistsError:
            raise
        except OSError:  # a filesystem without hard links: exclusive create, then copy
            with tmp.open("rb") as src, path.open("xb") as out:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
    finally:
        tmp.unlink(missing_ok=True)
        for suffix in ("-journal", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def copy_into(src: Path, dest: Path) -> None:
    """SQLite's online backup of ``src`` into the (empty) file ``dest``: a consistent copy even while
    others read and write; the copy is a single self-contained file (rollback journal, no WAL)."""
    with closing(_read_only(src)) as source, closing(sqlite3.connect(dest)) as target:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")


def replace(target: Path, backup: Path, keep: Path) -> None:
    """Make ``target`` a fresh copy of ``backup`` in one rename; the file it replaces stays at ``keep``.

    The old file is kept byte for byte (with its WAL, which SQLite reads as ``keep``-wal), damaged or
    not. Its WAL and shared-memory files are removed before the rename so they are never replayed onto
    the restored database.
    """
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        copy_into(backup, tmp)
        os.chmod(tmp, 0o644)
        if target.exists():
            shutil.copymode(target, tmp)
            shutil.copy2(target, keep)
            wal = Path(f"{target}-wal")
            if wal.exists() and wal.stat().st_size:
                shutil.copy2(wal, Path(f"{keep}-wal"))
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}-journal").unlink(missing_ok=True)


def stamp(now: dt.datetime | None = None) -> str:
    """A file-name timestamp in Beijing time, the users' clock."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d-%H%M%S")


def row_counts(path: Path, tables: list[str]) -> dict[str, int]:
    """Rows per table of an intact file, read-only (for the messages of backup and restore)."""
    with closing(_read_only(path)) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
