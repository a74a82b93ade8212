"""The store's tables as SQLAlchemy Core objects: what writes, checks, frames and tests build statements on.

Reads on a command's path (``score``, ``report``, a batch kernel) are plain SQL in ``store_sql`` and
never import this module, so a short command does not pay for SQLAlchemy. Migrations keep their own
frozen copies: these are today's tables, those are each revision's.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint


def programme_table(name: str, meta: MetaData, *parts: Column | UniqueConstraint) -> Table:
    """A table of per-programme rows: an own id, then the programme (the dataset's name), then ``parts``."""
    return Table(
        name,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("dataset", String(128), nullable=False),
        *parts,
    )


metadata = MetaData()
meta_table = Table("rk_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))
versions = programme_table(
    "rk_versions",
    metadata,
    Column("institution", Integer, nullable=False),
    Column("sheet", String(128), nullable=False),
    Column("key", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("expert", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("content", Text, nullable=True),  # JSON; NULL = the judgment was withdrawn
    Column("reason", Text, nullable=False),
    Column("replaces", Integer, ForeignKey("rk_versions.id"), nullable=True),
    Column("rubric_id", String(64), nullable=True),  # NULL: made before schema 2 recorded it
    Column("rubric_digest", String(64), nullable=True),
    Column("login", String(128), nullable=True),  # who wrote it (NULL: before r0004 recorded it)
    UniqueConstraint("dataset", "institution", "sheet", "key", "seq", name="uq_version_seq"),
)

events = programme_table(
    "rk_events",
    metadata,
    Column("institution", Integer, nullable=False),
    Column("seq", Integer, nullable=False),  # per institution; unique, so a step based on a stale state fails
    Column("kind", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("note", Text, nullable=False),
    Column("rubric_id", String(64), nullable=True),
    Column("rubric_digest", String(64), nullable=True),
    Column("login", String(128), nullable=True),
    UniqueConstraint("dataset", "institution", "seq", name="uq_event_seq"),
)

# Public keys of the people who sign (keyring.py): registrations and revocations, appended, never edited.
keys = Table(
    "rk_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(128), nullable=False),
    Column("action", String(16), nullable=False),  # "register" or "revoke"
    Column("algorithm", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("public_key", Text, nullable=False),  # base64 of the raw public key
    Column("effective", String(10), nullable=False),  # ISO date from which the action holds
    Column("actor", String(128), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("note", Text, nullable=False),
)

# The people registry (people.py).
people_metadata = MetaData()  # the registry's own: created with it (r0004), not with the core store
people = programme_table(
    "rk_people",
    people_metadata,
    Column("login", String(63), nullable=False),
    Column("name", String(128), nullable=False),
    Column("demo", Boolean, nullable=False),
    UniqueConstraint("dataset", "login", name="uq_person_login"),
)
roles = programme_table(
    "rk_roles",
    people_metadata,
    Column("login", String(63), nullable=False),
    Column("role", String(32), nullable=False),
    UniqueConstraint("dataset", "login", "role", name="uq_role_grant"),
)
assignments = programme_table(
    "rk_assignments",
    people_metadata,
    Column("login", String(63), nullable=False),
    Column("institution", Integer, nullable=False),
    Column("grp", String(64), nullable=False),
    UniqueConstraint("dataset", "login", "institution", name="uq_assignment"),
)
log = programme_table(
    "rk_people_log",
    people_metadata,
    Column("at", String(32), nullable=False),
    Column("by_login", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)
