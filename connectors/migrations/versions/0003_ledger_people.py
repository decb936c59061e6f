"""People in the loop of the ledger (issue 18): what county staff wrote in the 台账 workbook.

``ledger_people`` holds the current state per discrepancy (one row per 问题编号, replaced
on import); ``ledger_events`` is the audit trail of every accepted change, only ever
appended to. The ledger snapshots gain the people's columns and the ``overdue`` flag, so
a snapshot shows what the run honoured. Columns are only added (outputs.md).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

T = sa.Text
# The people's columns (schemas/ledger_people.yaml names them); deadline is an ISO date.
PEOPLE = (("responsible_unit", T), ("responsible_person", T), ("deadline", sa.String(10)), ("measures", T),
          ("progress", sa.String(8)), ("verdict", sa.String(8)), ("note", T), ("same_household", sa.String(4)))


def upgrade():
    op.create_table(
        "ledger_people",
        sa.Column("discrepancy_id", sa.String(16), primary_key=True),
        sa.Column("county_code", sa.String(6)),
        # the item's rule and record pair, copied from the ledger at import: a REVIEW_MATCH
        # decision must name its pair on every later run, after the item itself is resolved
        sa.Column("rule", sa.String(64)), sa.Column("household_no", sa.String(64)),
        sa.Column("archive_no", sa.String(64)),
        *[sa.Column(name, kind) for name, kind in PEOPLE],
        # The item's values when the verdict was given: a change of them reopens a waived item.
        sa.Column("verdict_values", T),
        sa.Column("source_file", T), sa.Column("source_sha256", sa.String(64)),
        sa.Column("source_row", sa.Integer), sa.Column("imported_at", sa.String(32)),
    )
    op.create_index("ix_ledger_people_county", "ledger_people", ["county_code"])
    op.create_table(
        "ledger_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("discrepancy_id", sa.String(16), nullable=False),
        sa.Column("county_code", sa.String(6)),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old_value", T), sa.Column("new_value", T),
        sa.Column("source_file", T, nullable=False), sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("row_number", sa.Integer), sa.Column("imported_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_ledger_events_id", "ledger_events", ["discrepancy_id"])
    with op.batch_alter_table("discrepancy_ledger") as t:  # batch: SQLite alters by copy
        for name, kind in PEOPLE:
            t.add_column(sa.Column(name, kind))
        t.add_column(sa.Column("overdue", sa.Boolean))


def downgrade():
    with op.batch_alter_table("discrepancy_ledger") as t:
        t.drop_column("overdue")
        for name, _ in reversed(PEOPLE):
            t.drop_column(name)
    op.drop_index("ix_ledger_events_id", "ledger_events")
    op.drop_table("ledger_events")
    op.drop_index("ix_ledger_people_county", "ledger_people")
    op.drop_table("ledger_people")
