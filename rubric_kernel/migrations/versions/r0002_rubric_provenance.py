"""Schema 2: every version and workflow event records the rubric (id and digest) it was made under.

Rows written before this revision keep NULL there: which rubric they were made under was not recorded,
and guessing it would be a fabricated fact.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None

TABLES = ("rk_versions", "rk_events")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("rubric_id", sa.String(64), nullable=True))
        op.add_column(table, sa.Column("rubric_digest", sa.String(64), nullable=True))
    meta = sa.table("rk_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("rubric_digest")
            batch.drop_column("rubric_id")
    meta = sa.table("rk_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="1"))
