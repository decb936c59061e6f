"""Initial store: run history, published tables keyed by run, the discrepancy ledger.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = sa.String(64)
T = sa.Text


def _published(name, *cols):
    op.create_table(name, sa.Column("run_id", S, nullable=False, index=True), *cols)


def upgrade():
    op.create_table(
        "runs",
        sa.Column("run_id", S, primary_key=True),
        sa.Column("as_of", sa.String(10), nullable=False, index=True),
        sa.Column("scope", T, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("parameters", sa.JSON), sa.Column("inputs", sa.JSON),
        sa.Column("counts", sa.JSON), sa.Column("timings", sa.JSON), sa.Column("message", T),
    )
    _published("matches", sa.Column("household_no", S), sa.Column("archive_no", S), sa.Column("county_code", S),
               sa.Column("method", S), sa.Column("score", sa.Float), sa.Column("agreement", T),
               sa.Column("member_name", T))
    _published("discrepancies", *[sa.Column(c, T) for c in (
        "discrepancy_id", "rule", "severity", "owner", "agency", "household_no", "archive_no", "county_code",
        "field", "ps_value", "ha_value", "suggested_value", "message", "message_en", "action", "action_en",
        "status", "first_seen")])
    _published("unified", *[sa.Column(c, T) for c in (
        "unified_id", "household_no", "archive_no", "county_code", "village_code", "householder_name",
        "householder_id", "identity_source", "poverty_attribute", "exit_status", "poverty_source",
        "guarantee_method", "housing_secured_basis", "housing_source", "renovation_status", "renovation_source",
        "match_method")], sa.Column("household_size", sa.Integer), sa.Column("in_ps", sa.Boolean),
        sa.Column("in_ha", sa.Boolean), sa.Column("ha_records", sa.Integer), sa.Column("housing_secured", sa.Boolean),
        sa.Column("completion_date", sa.DateTime), sa.Column("subsidy_yuan", sa.Float),
        sa.Column("match_score", sa.Float), sa.Column("open_discrepancies", sa.Integer))
    _published("quarantine", *[sa.Column(c, T) for c in (
        "source", "record_key", "county_code", "column", "value", "problem", "reason")],
        sa.Column("row_number", sa.Integer))
    _published("other_groups", sa.Column("archive_no", S), sa.Column("county_code", S), sa.Column("target_type", T))
    # The ledger keeps one snapshot per as_of: a run for date D starts from the latest
    # snapshot before D, so re-running D gives the same state however often it runs.
    op.create_table(
        "discrepancy_ledger",
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("discrepancy_id", sa.String(16), nullable=False),
        sa.Column("rule", S, nullable=False), sa.Column("county_code", sa.String(6)),
        sa.Column("household_no", S), sa.Column("archive_no", S), sa.Column("field", T),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("first_seen", sa.String(10), nullable=False), sa.Column("last_seen", sa.String(10)),
        sa.Column("resolved_at", sa.String(10)), sa.Column("changed_by_run", S),
        sa.PrimaryKeyConstraint("as_of", "discrepancy_id"),
    )
    op.create_index("ix_ledger_county", "discrepancy_ledger", ["as_of", "county_code"])


def downgrade():
    for name in ("discrepancy_ledger", "other_groups", "quarantine", "unified", "discrepancies", "matches", "runs"):
        op.drop_table(name)
