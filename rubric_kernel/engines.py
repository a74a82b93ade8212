"""One SQLAlchemy engine per process per database URL, shared by every store opened on it.

An engine owns a connection pool; building one per ``Store`` gave a process that opened the store
twice (a command and its bootstrap, a notebook and its cohort page) two pools on the same file. Each
``acquire`` counts a user and each ``release`` drops one; the last release disposes the engine, so a
closed store holds no connection (its SQLite file can be moved or replaced). Engines still held
when the process ends are disposed at exit, and a forked child drops the parent's pools without
closing the parent's connections (SQLAlchemy's documented pattern for ``fork``).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_users: dict[str, int] = {}


def acquire(url: str, configure: Callable[[Engine], None] = lambda _e: None) -> Engine:
    """The process's engine for ``url``; ``configure`` runs once, when the engine is built.

    SQLAlchemy is imported here, when a store first needs an engine: commands that only read a
    SQLite file never do (``sqlite_reads``)."""
    from sqlalchemy import create_engine

    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
            configure(engine)
            _engines[url] = engine
        _users[url] = _users.get(url, 0) + 1
        return engine


def release(url: str) -> None:
    """One user of ``url`` is done; the last one disposes the engine and its connections."""
    with _lock:
        left = _users.get(url, 0) - 1
        if left > 0:
            _users[url] = left
            return
        _users.pop(url, None)
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    with _lock:
        held = list(_engines.values())
        _engines.clear()
        _users.clear()
    for engine in held:
        engine.dispose()


def _after_fork() -> None:
    """In a forked child: forget the parent's pools without closing connections the parent still uses."""
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at the fork
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _users.clear()


atexit.register(dispose_all)
os.register_at_fork(after_in_child=_after_fork)
