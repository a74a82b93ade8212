"""Plain-SQL reads of a SQLite store through the standard library's sqlite3, not SQLAlchemy.

A short command (``score``, ``report``) and every batch kernel only read the store: importing
SQLAlchemy and compiling its statements cost them more than the reads themselves. Writes, migrations
and server databases keep going through the store's SQLAlchemy engine; both see the same file, and
each read here runs in its own implicit transaction (autocommit), as a fresh engine connection did.

One connection per thread (sqlite3 objects must stay on their thread) and per process (a connection
never crosses a ``fork``: the child opens its own and leaves the parent's alone).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

BUSY_SECONDS = 30  # as the engine's connections wait for a writer's lock


class SqliteReads:
    def __init__(self, path: Path, refusal: Callable[[sqlite3.Error], Exception]) -> None:
        """``refusal`` turns a driver error into the store's own (Chinese) error, raised instead."""
        self._path = path
        self._refusal = refusal
        self._local = threading.local()
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        conn = sqlite3.connect(self._path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        self._local.held = (os.getpid(), conn)
        with self._lock:
            self._opened.append(self._local.held)
        return conn

    def read(self, sql: str, params: Mapping[str, Any], by_name: bool = False) -> list:
        """The rows as tuples, or (``by_name``) as dicts by column name."""
        try:
            cur = self._connection().execute(sql, params)
            rows = cur.fetchall()
        except sqlite3.Error as exc:
            raise self._refusal(exc) from None
        if not by_name:
            return rows
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def close(self) -> None:
        """Close this process's connections (a parent's, inherited by a fork, are left to the parent)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for pid, conn in opened:
            if pid == os.getpid():
                conn.close()
        self._local = threading.local()
