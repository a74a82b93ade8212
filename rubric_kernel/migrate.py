"""Running the store's Alembic revisions programmatically, on a connection the store owns.

A store made before migrations existed (schema 1, no ``alembic_version`` table) is stamped as the
first revision, then upgraded like any other. Nothing here decides *when* to upgrade: the store
refuses an outdated schema and ``rubric-kernel upgrade-store`` runs this, after a backup.

Every store opening (each command, each batch kernel) asks whether the store is at ``HEAD``; that
answer is two small queries (plain SQL on a SQLite file: ``revision_from``). Alembic, its script
directory and the revision files are loaded only when the answer is no: to upgrade, or to tell an
unknown revision from an old one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

    from .rubric import Rubric

FIRST = "r0001"  # the schema of SCHEMA_VERSION 1, as released before migrations
HEAD = "r0005"  # the newest revision in migrations/versions (a test checks it is Alembic's head)

VERSION_TABLE = "alembic_version"  # Alembic's own bookkeeping: one row per head, a linear history has one


class MigrationRefused(Exception):
    """A revision cannot run on this store's data as given (the message, in Chinese, says what it needs)."""


def _config(conn: Connection | None, rubric: Rubric | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "rubric_kernel:migrations")
    cfg.attributes["connection"] = conn
    cfg.attributes["rubric"] = rubric  # the data migrations that map positions to stable ids need it
    return cfg


def head() -> str:
    """The newest revision this program knows."""
    return HEAD


def known(revision: str) -> bool:
    """Whether this program knows the revision (a newer program's store does not)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_config(None)).get_revision(revision) is not None
    except CommandError:
        return False


def current(conn: Connection) -> str | None:
    """The store's revision, read through SQLAlchemy (a server's, or inside an upgrade)."""
    from sqlalchemy import inspect, text

    tables = set(inspect(conn).get_table_names())
    return revision_from(
        tables, lambda: [tuple(r) for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    )


def revision_from(tables: Collection[str], version_rows: Callable[[], list[tuple]]) -> str | None:
    """The revision of a database holding ``tables``: its Alembic version row; FIRST for a store of
    schema 1 made before migrations; None for an empty database."""
    if VERSION_TABLE in tables:
        rows = version_rows()
        return rows[0][0] if rows else None
    return FIRST if "rk_meta" in tables else None


def upgrade(conn: Connection, target: str = "head", rubric: Rubric | None = None) -> None:
    """Bring the schema (and data) on ``conn`` to ``target``, inside the caller's transaction.

    ``rubric``: the one the stored judgments were made under (r0003 maps their positions to its ids).
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    cfg = _config(conn, rubric)
    if MigrationContext.configure(conn).get_current_revision() is None and current(conn) == FIRST:
        command.stamp(cfg, FIRST)
    command.upgrade(cfg, target)


def downgrade(conn: Connection, target: str, rubric: Rubric | None = None) -> None:
    """Take the schema (and data) on ``conn`` back to ``target`` (tests; a deliberate, backed-up step)."""
    from alembic import command

    command.downgrade(_config(conn, rubric), target)
