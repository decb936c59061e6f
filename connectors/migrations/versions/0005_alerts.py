"""History of the monitoring's alerts and alert ledger, of the HA records, and the other
groups' full columns (issues 19 and 23).

``alerts`` (alerts.parquet's columns, schemas/alerts.py) and ``alert_ledger`` (an alert's
life: open, resolved, reopened) are kept as row versions like every published table;
``records_ha`` too, so the monthly progress report reads a month end's HA records from
the store once its run folder is pruned. ``other_groups`` gains the columns of the
published file (it held three), so ``Store.table_as_of("other_groups")`` is that file:
versions stored before hold them null. Columns are only added (outputs.md).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

T, S, D = sa.Text, sa.String(64), sa.String(10)

# The HA archive's canonical columns as records_ha.parquet and other_groups.parquet hold
# them (other_groups: the archive records of households outside the task, with their
# renovation_status), in the published order.
HA_RECORD = [
    ("_row", sa.Integer), ("archive_no", S), ("province_name", T), ("city_name", T), ("county_name", T),
    ("town_name", T), ("village_name", T), ("village_code", S), ("householder_name", T),
    ("householder_name_raw", T), ("householder_id", S), ("householder_id_valid", sa.Boolean),
    ("householder_id_problem", T), ("householder_id_raw", T), ("household_size", sa.Integer), ("target_type", T),
    ("guarantee_method", T), ("secured_result", T), ("danger_grade", S), ("task_year", sa.Integer),
    ("task_source", T), ("renovation_mode", T), ("start_date", sa.DateTime), ("completion_date", sa.DateTime),
    ("acceptance_date", sa.DateTime), ("subsidy_yuan", sa.Double), ("county_code", S), ("secured", sa.Boolean),
]
OTHER_GROUPS = [c for c in HA_RECORD if c[0] != "_row"] + [("renovation_status", T)]
ALERTS = [
    ("alert_id", sa.String(16), False), ("alert", S, False), ("severity", S, True), ("household_no", S, True),
    ("archive_no", S, True), ("county_code", S, True), ("previous_as_of", D, True), ("previous_value", T, True),
    ("value", T, True), ("since", D, True), ("message_zh", T, True), ("action_zh", T, True),
]
ALERT_LEDGER = [
    ("alert_id", sa.String(16), False), ("alert", S, False), ("county_code", S, True), ("household_no", S, True),
    ("archive_no", S, True), ("status", sa.String(10), False), ("first_seen", D, False), ("last_seen", D, True),
    ("resolved_at", D, True), ("changed_by_run", S, True),
]


def _history_table(name: str, columns: list[tuple], index: bool = True) -> None:
    """A table as row versions (see connectors/history.py), its data columns first."""
    op.create_table(
        name,
        *[sa.Column(c[0], c[1], nullable=c[2] if len(c) > 2 else True) for c in columns],
        sa.Column("run_id", S),  # the run that wrote the version
        sa.Column("valid_from", D, nullable=False), sa.Column("valid_to", D),
        sa.Column("row_key", sa.String(32), nullable=False), sa.Column("occurrence", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("row_key", "valid_from", name=f"pk_{name}_versions"),
    )
    if index:
        _indexes(name)


def _indexes(name: str) -> None:
    op.create_index(f"ix_{name}_valid_to", name, ["valid_to", "valid_from"])
    op.create_index(f"ix_{name}_valid_from", name, ["valid_from"])
    op.create_index(f"ix_{name}_county", name, ["county_code"])


def _other_groups_in_full() -> None:
    """other_groups made again with the published file's columns in its order (an added
    column would come after the history's), its versions copied over."""
    conn = op.get_bind()
    old = sa.Table("other_groups", sa.MetaData(), autoload_with=conn)
    _history_table("other_groups_full", OTHER_GROUPS, index=False)
    new = sa.Table("other_groups_full", sa.MetaData(), autoload_with=conn)
    kept = [c.name for c in old.columns]
    conn.execute(new.insert().from_select(kept, sa.select(*[old.c[c] for c in kept])))
    op.drop_table("other_groups")
    op.rename_table("other_groups_full", "other_groups")
    _indexes("other_groups")


def upgrade():
    _history_table("alerts", ALERTS)
    _history_table("alert_ledger", ALERT_LEDGER)
    _history_table("records_ha", HA_RECORD)
    _other_groups_in_full()
    # what monitoring follows from date to date (unified.parquet gained them): without them
    # the store would drop the columns and no earlier danger grade or start date be seen
    with op.batch_alter_table("unified") as t:
        t.add_column(sa.Column("danger_grade", T))
        t.add_column(sa.Column("start_date", sa.DateTime))


def downgrade():
    """other_groups back to its three columns; the other tables dropped."""
    with op.batch_alter_table("unified") as t:
        t.drop_column("start_date")
        t.drop_column("danger_grade")
    conn = op.get_bind()
    full = sa.Table("other_groups", sa.MetaData(), autoload_with=conn)
    _history_table("other_groups_narrow", [c for c in OTHER_GROUPS if c[0] in ("archive_no", "county_code",
                                                                               "target_type")], index=False)
    kept = [c.name for c in full.columns if c.name not in {n for n, _ in OTHER_GROUPS} - {"archive_no",
                                                                                         "county_code", "target_type"}]
    narrow = sa.Table("other_groups_narrow", sa.MetaData(), autoload_with=conn)
    conn.execute(narrow.insert().from_select(kept, sa.select(*[full.c[c] for c in kept])))
    op.drop_table("other_groups")
    op.rename_table("other_groups_narrow", "other_groups")
    _indexes("other_groups")
    for name in ("records_ha", "alert_ledger", "alerts"):
        op.drop_table(name)
