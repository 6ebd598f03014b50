"""outbox notice key: a notice's attempt finds its messages by an indexed equality

Every attempt of the mail activity looked its notice's rows up with ``idempotency_key LIKE
'<notice>|%'``, which no index serves (SQLite never uses one for a LIKE with ESCAPE; PostgreSQL
only under the C collation): each reminder scanned every message ever stored, so a fan-out to
N recipients cost O(N²). ``notice_key`` holds the notice's part of the key
(``activities.mail.notice_prefix``), indexed. Existing rows get it from their key: the part up
to and including its last ``|`` (a recipient key never holds one); a key without ``|`` was
never a notice's and keeps ''.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _backfill() -> None:
    conn = op.get_bind()
    outbox = sa.table(
        "outbox_message",
        sa.column("id", sa.Integer),
        sa.column("idempotency_key", sa.String),
        sa.column("notice_key", sa.String),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(outbox.c.id, outbox.c.idempotency_key)
            .where(outbox.c.id > last)
            .order_by(outbox.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        updates = [
            {"row_id": row_id, "notice": key.rsplit("|", 1)[0] + "|"}
            for row_id, key in rows
            if "|" in key
        ]
        if updates:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == sa.bindparam("row_id"))
                .values(notice_key=sa.bindparam("notice")),
                updates,
            )


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "notice_key",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )
    _backfill()
    op.create_index("ix_outbox_notice", "outbox_message", ["notice_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_notice", table_name="outbox_message")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("notice_key")
