"""Scored matches explained: per-field weights and the Chinese explanation on matches, and
the explanation on discrepancies (REVIEW_MATCH rows). Columns are only added (outputs.md:
a published column is never renamed or dropped); earlier runs keep them empty.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("matches") as t:  # batch: SQLite alters by copy
        t.add_column(sa.Column("weights", sa.Text))
        t.add_column(sa.Column("explanation", sa.Text))
    with op.batch_alter_table("discrepancies") as t:
        t.add_column(sa.Column("explanation", sa.Text))


def downgrade():
    with op.batch_alter_table("discrepancies") as t:
        t.drop_column("explanation")
    with op.batch_alter_table("matches") as t:
        t.drop_column("explanation")
        t.drop_column("weights")
