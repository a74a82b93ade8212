"""Running the store's Alembic revisions programmatically, on a connection the store owns.

A store made before migrations existed (schema 1, no ``alembic_version`` table) is stamped as the
first revision, then upgraded like any other. Nothing here decides *when* to upgrade: the store
refuses an outdated schema and ``rubric-kernel upgrade-store`` runs this, after a backup.

Every store opening (each command, each batch kernel) asks whether the store is at ``HEAD``; that
answer is two small queries through SQLAlchemy. Alembic, its script directory and the revision
files are loaded only when the answer is no: to upgrade, or to tell an unknown revision from an old one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, MetaData, String, Table, inspect, select

if TYPE_CHECKING:
    from alembic.config import Config

FIRST = "r0001"  # the schema of SCHEMA_VERSION 1, as released before migrations
HEAD = "r0002"  # the newest revision in migrations/versions (a test checks it is Alembic's head)

# Alembic's own bookkeeping table, as Alembic defines it: one row per head, a linear history has one.
_version_table = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))


def _config(conn: Connection | None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "rubric_kernel:migrations")
    cfg.attributes["connection"] = conn
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
    """The store's revision; FIRST for a store of schema 1 made before migrations; None for an empty database."""
    checked = inspect(conn)
    if checked.has_table(_version_table.name):
        return conn.execute(select(_version_table.c.version_num)).scalar()
    return FIRST if checked.has_table("rk_meta") else None


def upgrade(conn: Connection, target: str = "head") -> None:
    """Bring the schema (and data) on ``conn`` to ``target``, inside the caller's transaction."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    cfg = _config(conn)
    if MigrationContext.configure(conn).get_current_revision() is None and current(conn) == FIRST:
        command.stamp(cfg, FIRST)
    command.upgrade(cfg, target)
