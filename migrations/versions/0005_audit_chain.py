"""tamper-evident audit trail: hash chain per cycle, UPDATE and DELETE refused

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTENT = (
    "id",
    "at",
    "actor",
    "cycle_id",
    "unit_id",
    "entity",
    "entity_key",
    "action",
    "before",
    "after",
    "request_key",
)
REFUSAL = "audit_log is append-only"


def _seal_existing() -> None:
    """Chains the rows written before this revision (the triggers do not exist yet)."""
    from sqlmodel import Session, col, select

    from models.tables import AuditLog
    from services.audit import GENESIS, row_digest

    bind = op.get_bind()
    with Session(bind=bind) as session:
        prev: dict[str, tuple[int, str]] = {}
        for row in session.exec(select(AuditLog).order_by(col(AuditLog.id))):
            seq, last = prev.get(row.cycle_id or "", (0, GENESIS))
            row.chain_seq = seq + 1
            row.prev_hash = last
            row.row_hash = row_digest(row, last)
            prev[row.cycle_id or ""] = (seq + 1, row.row_hash)
            session.add(row)
        session.flush()


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _seal_existing()
    if op.get_bind().dialect.name == "postgresql":
        same = " AND ".join(
            f"NEW.{c}::text IS NOT DISTINCT FROM OLD.{c}::text" for c in CONTENT
        )
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              -- The one UPDATE allowed: sealing a new row into its chain, content unchanged.
              IF TG_OP = 'UPDATE' AND OLD.row_hash IS NULL AND NEW.row_hash IS NOT NULL
                 AND {same} THEN
                RETURN NEW;
              END IF;
              RAISE EXCEPTION '{REFUSAL}';
            END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in CONTENT)
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            f"WHEN NOT (OLD.row_hash IS NULL AND NEW.row_hash IS NOT NULL AND {same}) "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_seq")
