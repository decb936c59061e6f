"""Correction packages and cleaned extracts on disk, and the write-back to an agency's database.

Layout, per agency and county (full ID numbers here: the agencies need them):

    feedback/<as_of>/ps/<county>/纠错清单_<county>.csv   GB18030
    feedback/<as_of>/ps/<county>/纠错清单_<county>.xlsx
    feedback/<as_of>/ps/<county>/清洗数据_<county>.csv / .xlsx
    feedback/<as_of>/ha/<county>/纠错清单_<county>.xlsx
    feedback/<as_of>/ha/<county>/清洗数据_<county>.xlsx
    feedback/<as_of>/corrections_ps.parquet, corrections_ha.parquet   (what ``push`` sends)

People open these files in a spreadsheet before anything is imported: every writer here
goes through ``connectors.native``, so text that would start a formula carries a leading
apostrophe-quote (``connectors.cells``), and each correction package says so in its note
row (``APOSTROPHE_NOTE``). ``push`` sends the values as they are: a database is no
spreadsheet.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from connectors.cells import APOSTROPHE_NOTE
from connectors.native import write_csv, write_xlsx

PACKAGE_HEADERS_ZH = {"discrepancy_id": "问题编号", "rule": "规则", "severity": "严重程度", "county_code": "县代码"}
STAGING_COLUMNS = ["discrepancy_id", "rule", "severity", "county_code", "record_key", "column", "field_native",
                   "current_value", "proposed_value", "basis", "reason", "as_of"]


def write_packages(root: Path, agency: str, package: pd.DataFrame, cleaned: pd.DataFrame, county_of_record:
                   pd.Series) -> list[Path]:
    written = []
    for county, rows in package.groupby("county_code", sort=True):
        folder = root / agency / str(county)
        name = f"纠错清单_{county}"
        body = rows.drop(columns=["column"]).rename(columns=PACKAGE_HEADERS_ZH)
        if agency == "ps":
            write_csv(body, folder / f"{name}.csv", "gb18030")
            written.append(folder / f"{name}.csv")
        write_xlsx(body, folder / f"{name}.xlsx", title=f"{county} {'扶贫系统' if agency == 'ps' else '农户档案'}纠错清单",
                   note=APOSTROPHE_NOTE, totals_label=None)
        written.append(folder / f"{name}.xlsx")
    for county, rows in cleaned.groupby(county_of_record.to_numpy(), sort=True):
        folder = root / agency / str(county)
        name = f"清洗数据_{county}"
        if agency == "ps":
            write_csv(rows, folder / f"{name}.csv", "gb18030")
            written.append(folder / f"{name}.csv")
        write_xlsx(rows, folder / f"{name}.xlsx", totals_label=None)
        written.append(folder / f"{name}.xlsx")
    return written


def staging_rows(package: pd.DataFrame, agency: str, as_of: str) -> pd.DataFrame:
    key = package["户编号"] if agency == "ps" else package["档案编号"].fillna(package["户编号"])
    rows = pd.DataFrame({
        "discrepancy_id": package["discrepancy_id"], "rule": package["rule"], "severity": package["severity"],
        "county_code": package["county_code"], "record_key": key, "column": package["column"],
        "field_native": package["字段"], "current_value": package["当前值"], "proposed_value": package["建议值"],
        "basis": package["依据"], "reason": package["原因"], "as_of": as_of})
    return rows.drop_duplicates("discrepancy_id")


def staging_table(name: str, schema: str | None = None) -> sa.Table:
    cols = [sa.Column("discrepancy_id", sa.String(16), primary_key=True)]
    cols += [sa.Column(c, sa.String(64) if c in ("rule", "severity", "county_code", "record_key", "column", "as_of")
                       else sa.Text) for c in STAGING_COLUMNS[1:]]
    return sa.Table(name, sa.MetaData(), *cols, schema=schema)


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict]):
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"write-back to {dialect} is not supported; use PostgreSQL, MySQL/MariaDB or SQLite")
    stmt = insert(table)
    update = {c: stmt.excluded[c] if dialect != "mysql" and dialect != "mariadb" else stmt.inserted[c]
              for c in STAGING_COLUMNS[1:]}
    if dialect in ("mysql", "mariadb"):
        stmt = stmt.on_duplicate_key_update(**update)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=["discrepancy_id"], set_=update)
    conn.execute(stmt, rows)


def push(rows: pd.DataFrame, url: str, table: str, batch: int = 5_000) -> int:
    """Upsert the rows into the agency's staging table in one transaction (created if absent).

    Keyed by discrepancy id: pushing the same package twice changes nothing; a failure
    anywhere rolls the whole push back.
    """
    schema, _, name = table.rpartition(".")
    t = staging_table(name, schema or None)
    engine = sa.create_engine(url)
    records = rows[STAGING_COLUMNS].astype(object).where(rows[STAGING_COLUMNS].notna(), None).to_dict("records")
    try:
        with engine.begin() as conn:
            t.metadata.create_all(conn, checkfirst=True)
            for start in range(0, len(records), batch):
                _upsert(conn, t, records[start:start + batch])
    finally:
        engine.dispose()
    return len(records)
