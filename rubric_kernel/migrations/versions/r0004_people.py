"""People and roles; every version and event records the login that wrote it; versions and events append-only.

The registry (people, role grants, institution assignments) lives in the store so that the database
itself can check an act against it (row-level security on PostgreSQL). Its change log says who
changed it and when. Rows written before this revision keep NULL as their login: who wrote them
was not recorded, and guessing it would be a fabricated fact.

Versions and events were append-only by convention; from here on triggers refuse UPDATE and DELETE
on both, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("rk_versions", "rk_events")
REFUSAL = "评分版本与流程事件只能追加，不能修改或删除"


def upgrade() -> None:
    for table in APPEND_ONLY:
        op.add_column(table, sa.Column("login", sa.String(128), nullable=True))
    op.create_table(
        "rk_people",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("login", sa.String(63), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("dataset", "login", name="uq_person_login"),
    )
    op.create_table(
        "rk_roles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("login", sa.String(63), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.UniqueConstraint("dataset", "login", "role", name="uq_role_grant"),
    )
    op.create_table(
        "rk_assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("login", sa.String(63), nullable=False),
        sa.Column("institution", sa.Integer, nullable=False),
        sa.Column("grp", sa.String(64), nullable=False),
        sa.UniqueConstraint("dataset", "login", "institution", name="uq_assignment"),
    )
    op.create_table(
        "rk_people_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("by_login", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    for statement in append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name):
        op.execute(statement)
    for table in ("rk_people_log", "rk_assignments", "rk_roles", "rk_people"):
        op.drop_table(table)
    for table in APPEND_ONLY:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("login")


def append_only_sql(dialect: str) -> list[str]:
    """Triggers refusing UPDATE and DELETE of versions and events, whoever the database user is."""
    if dialect == "postgresql":
        out = [
            "CREATE OR REPLACE FUNCTION rk_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}（%）', TG_TABLE_NAME; END $$"
        ]
        for table in APPEND_ONLY:
            out.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION rk_append_only()"
            )
        return out
    return [
        f"CREATE TRIGGER {table}_no_{act.lower()} BEFORE {act} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}（{table}）'); END"
        for table in APPEND_ONLY
        for act in ("UPDATE", "DELETE")
    ]


def drop_append_only_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER {t}_append_only ON {t}" for t in APPEND_ONLY] + [
            "DROP FUNCTION rk_append_only() CASCADE"
        ]
    return [f"DROP TRIGGER {t}_no_{act}" for t in APPEND_ONLY for act in ("update", "delete")]
