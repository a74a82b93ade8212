"""The first released schema (SCHEMA_VERSION 1): meta facts, judgment versions, workflow events.

Frozen here as it was, independent of ``store.metadata``, so later changes to the store's table
definitions never change what this revision creates.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table("rk_meta", sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text))
    op.create_table(
        "rk_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("institution", sa.Integer, nullable=False),
        sa.Column("sheet", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("expert", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("replaces", sa.Integer, sa.ForeignKey("rk_versions.id"), nullable=True),
        sa.UniqueConstraint("dataset", "institution", "sheet", "key", "seq", name="uq_version_seq"),
    )
    op.create_table(
        "rk_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("institution", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.UniqueConstraint("dataset", "institution", "seq", name="uq_event_seq"),
    )
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}, {"key": "initialised_at", "value": created}])


def downgrade() -> None:
    for table in ("rk_events", "rk_versions", "rk_meta"):
        op.drop_table(table)
