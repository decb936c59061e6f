"""History as changes (issue 23): each published table and the ledger become row versions
with validity intervals by as_of (valid_from included, valid_to excluded, NULL: still
valid) instead of a copy per run.

Every date's snapshot moves over: the published tables' rows of the latest run stored for
each as_of (a re-run replaced what its date said), the ledger's snapshot of each as_of.
Dates are replayed oldest first; a row that did not change from one date to the next
stays one version. ``history_snapshots`` lists the dates each table was stored for.

Revision ID: 0004
Revises: 0003
"""
import pandas as pd
import sqlalchemy as sa
from alembic import op

from connectors.history import HISTORY_COLUMNS, LEDGER, SEEN_ON_THE_DATE, _kind, encode, in_table_order, token

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The published column order (outputs.md tables as the stages write them): the history
# tables are made in it, so a table read back as of a date has the published columns.
PUBLISHED_ORDER = {
    "matches": ["household_no", "archive_no", "county_code", "method", "score", "agreement", "member_name",
                "weights", "explanation"],
    "discrepancies": ["discrepancy_id", "rule", "severity", "owner", "agency", "household_no", "archive_no",
                      "county_code", "field", "ps_value", "ha_value", "suggested_value", "explanation", "message",
                      "message_en", "action", "action_en", "status", "first_seen"],
    "unified": ["unified_id", "household_no", "archive_no", "county_code", "village_code", "householder_name",
                "householder_id", "household_size", "identity_source", "in_ps", "in_ha", "ha_records",
                "poverty_attribute", "exit_status", "poverty_source", "guarantee_method", "housing_secured",
                "housing_secured_basis", "housing_source", "renovation_status", "completion_date", "subsidy_yuan",
                "renovation_source", "match_method", "match_score", "open_discrepancies"],
    "quarantine": ["source", "row_number", "record_key", "county_code", "column", "value", "problem", "reason"],
    "other_groups": ["archive_no", "county_code", "target_type"],
}
TABLES = ("matches", "discrepancies", "unified", "quarantine", "other_groups", LEDGER)
BATCH = 20_000


def _generic(col) -> sa.types.TypeEngine:
    kind = _kind(col.type)
    if kind != "text":
        return {"bool": sa.Boolean(), "int": sa.Integer(), "float": sa.Double(), "datetime": sa.DateTime()}[kind]
    length = getattr(col.type, "length", None)
    return sa.String(length) if length and length <= 255 else sa.Text()


def _history_table(name: str, old: sa.Table) -> sa.Table:
    data = [c for c in old.columns if c.name not in ("run_id", "as_of")]
    order = PUBLISHED_ORDER.get(name, [])
    data.sort(key=lambda c: order.index(c.name) if c.name in order else len(order))  # stable: the rest keep theirs
    return sa.Table(
        f"{name}_history_new", sa.MetaData(),
        *[sa.Column(c.name, _generic(c), nullable=c.nullable) for c in data],
        sa.Column("run_id", sa.String(64)),  # the run that wrote the version
        sa.Column("valid_from", sa.String(10), nullable=False), sa.Column("valid_to", sa.String(10)),
        sa.Column("row_key", sa.String(32), nullable=False), sa.Column("occurrence", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("row_key", "valid_from", name=f"pk_{name}_versions"),
    )


def _snapshots(conn, name: str, old: sa.Table):
    """(as_of, run_id, SELECT of that date's rows) for each stored date, oldest first."""
    if name == LEDGER:
        dates = conn.execute(sa.select(old.c.as_of).distinct().order_by(old.c.as_of)).scalars().all()
        changed = sa.select(old.c.as_of, sa.func.max(old.c.changed_by_run)).group_by(old.c.as_of)
        by = dict(conn.execute(changed).fetchall())
        return [(d, by.get(d), sa.select(old).where(old.c.as_of == d)) for d in dates]
    runs = sa.Table("runs", sa.MetaData(), autoload_with=conn)
    orphans = conn.execute(sa.select(sa.func.count()).select_from(old).where(
        old.c.run_id.not_in(sa.select(runs.c.run_id)))).scalar()
    if orphans:
        raise RuntimeError(f"{name}: {orphans} rows name a run_id missing from runs, so their as_of is unknown; "
                           "nothing migrated (delete or attach them, then upgrade again)")
    listed = pd.DataFrame(conn.execute(sa.select(runs.c.run_id, runs.c.as_of, runs.c.started_at)).fetchall(),
                          columns=["run_id", "as_of", "started_at"])
    latest = listed.sort_values(["as_of", "started_at", "run_id"]).groupby("as_of").tail(1)
    return [(d, r, sa.select(old).where(old.c.run_id == r)) for d, r in zip(latest["as_of"], latest["run_id"])]


def _move(conn, name: str) -> None:
    old = sa.Table(name, sa.MetaData(), autoload_with=conn)
    new = _history_table(name, old)
    new.create(conn)
    kinds = {c.name: _kind(c.type) for c in new.columns if c.name not in HISTORY_COLUMNS}
    columns = [c.name for c in new.columns]
    current = pd.DataFrame(columns=columns)  # the open versions, one per row key
    closed = []
    snaps = sa.Table("history_snapshots", sa.MetaData(), autoload_with=conn)
    for as_of, run_id, stmt in _snapshots(conn, name, old):
        got = conn.execute(stmt)
        rows = pd.DataFrame(got.fetchall(), columns=list(got.keys()))
        frame = in_table_order(name, rows.drop(columns=[c for c in ("run_id", "as_of") if c in rows]))
        frame = frame.reindex(columns=list(kinds))
        enc = encode(name, frame, kinds, as_of)
        if name != LEDGER:
            enc["run_id"] = run_id
        else:  # the run that wrote a ledger row is its changed_by_run
            enc["run_id"] = enc["changed_by_run"]
        was = pd.Series(token(name, current).to_numpy(), index=current["row_key"].to_numpy()) if len(current) \
            else pd.Series(dtype=object)
        same = enc["row_key"].map(was) == token(name, enc)
        same = same.fillna(False).astype(bool)
        ends = current[~current["row_key"].isin(enc.loc[same, "row_key"])].copy()
        ends["valid_to"] = as_of
        closed.append(ends)
        opened = enc[~same].copy()
        opened["valid_from"], opened["valid_to"] = as_of, None
        still = current[current["row_key"].isin(enc.loc[same, "row_key"])]
        current = pd.concat([still, opened.reindex(columns=columns)], ignore_index=True)
        conn.execute(snaps.insert().values(table_name=name, as_of=as_of, run_id=run_id))
        if sum(len(c) for c in closed) >= BATCH:
            _insert(conn, new, pd.concat(closed, ignore_index=True), columns)
            closed = []
    _insert(conn, new, pd.concat([*closed, current], ignore_index=True), columns)
    op.drop_table(name)
    op.rename_table(new.name, name)
    op.create_index(f"ix_{name}_valid_to", name, ["valid_to", "valid_from"])
    op.create_index(f"ix_{name}_valid_from", name, ["valid_from"])
    if "county_code" in kinds:
        op.create_index(f"ix_{name}_county", name, ["county_code"])


def _insert(conn, table: sa.Table, frame: pd.DataFrame, columns: list[str]) -> None:
    if not len(frame):
        return
    frame = frame.reindex(columns=columns)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for start in range(0, len(records), BATCH):
        conn.execute(table.insert(), records[start:start + BATCH])


def upgrade():
    op.create_table(
        "history_snapshots",
        sa.Column("table_name", sa.String(64), primary_key=True), sa.Column("as_of", sa.String(10), primary_key=True),
        sa.Column("run_id", sa.String(64)),
    )
    conn = op.get_bind()
    for name in TABLES:
        _move(conn, name)


def downgrade():
    """Back to a copy per stored date (the ledger per as_of, the tables per run)."""
    conn = op.get_bind()
    snaps = sa.Table("history_snapshots", sa.MetaData(), autoload_with=conn)
    for name in TABLES:
        hist = sa.Table(name, sa.MetaData(), autoload_with=conn)
        data = [c for c in hist.columns if c.name not in HISTORY_COLUMNS]
        key = [sa.Column("as_of", sa.String(10), nullable=False)] if name == LEDGER else \
            [sa.Column("run_id", sa.String(64), nullable=False, index=True)]
        old = sa.Table(f"{name}_copies_new", sa.MetaData(), *key, *[sa.Column(c.name, c.type) for c in data])
        old.create(conn)
        dates = conn.execute(sa.select(snaps.c.as_of, snaps.c.run_id).where(snaps.c.table_name == name)).fetchall()
        for as_of, run_id in dates:
            got = conn.execute(sa.select(*[hist.c[c.name] for c in data]).where(
                hist.c.valid_from <= as_of, sa.or_(hist.c.valid_to.is_(None), hist.c.valid_to > as_of)))
            rows = pd.DataFrame(got.fetchall(), columns=list(got.keys()))
            if name == LEDGER:
                rows["last_seen"] = rows["last_seen"].where(rows["last_seen"] != SEEN_ON_THE_DATE, as_of)
                rows.insert(0, "as_of", as_of)
            else:
                rows.insert(0, "run_id", run_id)
            _insert(conn, old, rows, [c.name for c in old.columns])
        op.drop_table(name)
        op.rename_table(old.name, name)
    op.drop_table("history_snapshots")
