"""classification decisions: a quota exception's decision number and a veto per cycle unit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: added in place on SQLite and PostgreSQL alike, existing rows keep NULL.
    op.add_column(
        "cycle_unit",
        sa.Column("quota_exception", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "cycle_unit",
        sa.Column("veto", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("cycle_unit") as batch:
        batch.drop_column("veto")
        batch.drop_column("quota_exception")
