"""The registered public keys of the people who sign: registrations and revocations, appended only.

Frozen here as created, independent of ``store.keys``, so later changes to the table definition never
change what this revision creates. Signatures made before it stay as they were (unkeyed): the checks
report them as such rather than guessing who signed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rk_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("effective", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    # Registered keys are append-only like versions and events (r0004): a revocation is a new row.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER rk_keys_append_only BEFORE UPDATE OR DELETE ON rk_keys "
            "FOR EACH ROW EXECUTE FUNCTION rk_append_only()"
        )
    else:
        for act in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER rk_keys_no_{act.lower()} BEFORE {act} ON rk_keys "
                "BEGIN SELECT RAISE(ABORT, '登记的公钥只能追加，不能修改或删除（rk_keys）'); END"
            )


def downgrade() -> None:
    op.drop_table("rk_keys")
