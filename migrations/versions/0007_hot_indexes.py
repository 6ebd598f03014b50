"""hot indexes: the reads every write or sheet makes probe an index instead of scanning

- ``ix_audit_chain`` (audit_log: cycle_id, chain_seq): sealing a row reads the last row of its
  chain (``services.audit._seal``); without it that read sorted every audit row of the cycle,
  on every write.
- ``ix_evidence_unit`` (evidence: cycle_id, unit_id, criterion_code): a sheet reads its unit's
  evidence, an upload its criterion's; without it both scanned every unit's files.
- ``ix_outbox_status`` (outbox_message: status, created_at): the backlog metric counts the
  pending messages; without it that scanned all mail ever sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("audit_log", "ix_audit_chain", ["cycle_id", "chain_seq"]),
    ("evidence", "ix_evidence_unit", ["cycle_id", "unit_id", "criterion_code"]),
    ("outbox_message", "ix_outbox_status", ["status", "created_at"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in INDEXES:
        op.drop_index(name, table_name=table)
