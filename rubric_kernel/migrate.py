"""Running the store's Alembic revisions programmatically, on a connection the store owns.

A store made before migrations existed (schema 1, no ``alembic_version`` table) is stamped as the
first revision, then upgraded like any other. Nothing here decides *when* to upgrade: the store
refuses an outdated schema and ``rubric-kernel upgrade-store`` runs this, after a backup.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect

from .rubric import Rubric

FIRST = "r0001"  # the schema of SCHEMA_VERSION 1, as released before migrations


class MigrationRefused(Exception):
    """A revision cannot run on this store's data as given (the message, in Chinese, says what it needs)."""


def _config(conn: Connection, rubric: Rubric | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "rubric_kernel:migrations")
    cfg.attributes["connection"] = conn
    cfg.attributes["rubric"] = rubric  # the data migrations that map positions to stable ids need it
    return cfg


def head() -> str:
    """The newest revision this program knows."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()  # type: ignore[arg-type]


def known(revision: str) -> bool:
    """Whether this program knows the revision (a newer program's store does not)."""
    try:
        return ScriptDirectory.from_config(_config(None)).get_revision(revision) is not None  # type: ignore[arg-type]
    except CommandError:
        return False


def current(conn: Connection) -> str | None:
    """The store's revision; FIRST for a store of schema 1 made before migrations; None for an empty database."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and "rk_meta" in inspect(conn).get_table_names():
        return FIRST
    return revision


def upgrade(conn: Connection, target: str = "head", rubric: Rubric | None = None) -> None:
    """Bring the schema (and data) on ``conn`` to ``target``, inside the caller's transaction.

    ``rubric``: the one the stored judgments were made under (r0003 maps their positions to its ids).
    """
    cfg = _config(conn, rubric)
    if MigrationContext.configure(conn).get_current_revision() is None and current(conn) == FIRST:
        command.stamp(cfg, FIRST)
    command.upgrade(cfg, target)


def downgrade(conn: Connection, target: str, rubric: Rubric | None = None) -> None:
    """Take the schema (and data) on ``conn`` back to ``target`` (tests; a deliberate, backed-up step)."""
    command.downgrade(_config(conn, rubric), target)
