"""Correction packages and cleaned extracts on disk, and the write-back to an agency's database.

Layout, per agency and county (full ID numbers here: the agencies need them):

    feedback/<as_of>/ps/<county>/纠错清单_<county>.csv   GB18030
    feedback/<as_of>/ps/<county>/纠错清单_<county>.xlsx
    feedback/<as_of>/ps/<county>/清洗数据_<county>.csv / .xlsx
    feedback/<as_of>/ps/<county>/README.txt            which file is for whom (CSV: import; XLSX: people)
    feedback/<as_of>/ha/<county>/纠错清单_<county>.xlsx
    feedback/<as_of>/ha/<county>/清洗数据_<county>.xlsx
    feedback/<as_of>/corrections_ps.parquet, corrections_ha.parquet   (what ``push`` sends)

People open these files in a spreadsheet before anything is imported: every writer here
goes through ``connectors.native``, so text that would start a formula carries a leading
apostrophe-quote (``connectors.cells``), and each correction package says so in its note
row (``APOSTROPHE_NOTE``). ``push`` sends the values as they are: a database is no
spreadsheet.

Who reads which file (the PS folder's README.txt says it in Chinese): the XLSX is for
people (rule and severity as Chinese labels, dates as dates, money as numbers, IDs and
household numbers as text cells); the CSV is for the system import, every value plain
text: an 18-digit ID or a 16-digit household number written as its digits, which is right
for an importer and wrong for a spreadsheet (Excel keeps 15 significant digits), hence
"CSV 供系统导入；人工查看请打开 XLSX". The CSV keeps rule and severity codes, as the staging
table does.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from connectors.cells import APOSTROPHE_NOTE
from connectors.errors import SourceError
from connectors.native import csv_text, write_csv, write_xlsx
from connectors.sql import TransientSourceError, expand_env
from schemas.config import load_labels

PACKAGE_HEADERS_ZH = {"discrepancy_id": "问题编号", "rule": "规则", "severity": "严重程度", "county_code": "县代码"}
STAGING_COLUMNS = ["discrepancy_id", "rule", "severity", "county_code", "record_key", "column", "field_native",
                   "current_value", "proposed_value", "basis", "reason", "as_of"]
AGENCY_ZH = {"ps": "扶贫系统", "ha": "农户档案"}
CSV_NOTE = "CSV 供系统导入；人工查看请打开 XLSX。"
README = f"""{CSV_NOTE}

本文件夹内的文件含完整身份证号码，仅供本部门使用，请勿外传。

纠错清单_<县代码>.xlsx / 清洗数据_<县代码>.xlsx：供人工查看、核对。身份证号码、户编号、档案编号、
区划代码均为文本单元格，不会丢失位数；日期为日期单元格（yyyy-mm-dd）；金额为数值，保留两位小数。

纠错清单_<县代码>.csv / 清洗数据_<县代码>.csv（GB18030 编码）：供系统导入。所有值均为纯文本：
身份证号码、户编号等按原样写出，每一位数字都保留；日期写作 yyyy-mm-dd，金额保留两位小数；
纠错清单 CSV 中的“规则”“严重程度”为代码（如 INVALID_ID、medium），XLSX 中为中文名称。
请勿用电子表格软件直接打开 CSV 再保存：电子表格会把长数字当作数值，身份证号码、户编号的末位会变成 0、
开头的 0 会丢失。需要查看时请打开同名的 XLSX 文件。

{APOSTROPHE_NOTE}
"""


def _labelled(body: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: the rule's and the severity's Chinese labels instead of codes."""
    labels = load_labels()
    out = body.copy()
    out["规则"] = out["规则"].map(lambda v: labels["rule"].get(v, v), na_action="ignore")
    out["严重程度"] = out["严重程度"].map(lambda v: labels["severity"].get(v, v), na_action="ignore")
    return out


def write_packages(root: Path, agency: str, package: pd.DataFrame, cleaned: pd.DataFrame, county_of_record:
                   pd.Series) -> list[Path]:
    """Per county: the correction package and the cleaned extract, XLSX for people (and, for
    PS, CSV for its system import, with a README saying which is which)."""
    written = []
    system = AGENCY_ZH[agency]
    note = (CSV_NOTE if agency == "ps" else "") + APOSTROPHE_NOTE
    money = [c for c in cleaned.columns if pd.api.types.is_float_dtype(cleaned[c])]
    for county, rows in package.groupby("county_code", sort=True):
        folder = root / agency / str(county)
        name = f"纠错清单_{county}"
        body = rows.drop(columns=["column"]).rename(columns=PACKAGE_HEADERS_ZH)
        if agency == "ps":
            write_csv(body, folder / f"{name}.csv", "gb18030")
            written.append(folder / f"{name}.csv")
        write_xlsx(_labelled(body), folder / f"{name}.xlsx", title=f"{county} {system}纠错清单", note=note,
                   totals_label=None, sheet="纠错清单")
        written.append(folder / f"{name}.xlsx")
    for county, rows in cleaned.groupby(county_of_record.to_numpy(), sort=True):
        folder = root / agency / str(county)
        name = f"清洗数据_{county}"
        if agency == "ps":
            write_csv(csv_text(rows, money), folder / f"{name}.csv", "gb18030")
            written.append(folder / f"{name}.csv")
        write_xlsx(rows, folder / f"{name}.xlsx", title=f"{county} {system}清洗数据", note=note, totals_label=None,
                   sheet="清洗数据", money=money)
        written.append(folder / f"{name}.xlsx")
    if agency == "ps":  # the CSVs are for the system: say so beside them
        for folder in sorted({p.parent for p in written}):
            (folder / "README.txt").write_text(README, encoding="utf-8")
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


def package_path(out: Path | str, as_of: str, agency: str) -> Path:
    """Where ``anju feedback build`` published an agency's package table (what ``push`` sends)."""
    return Path(out) / "feedback" / as_of / f"corrections_{agency}.parquet"


def push_package(out: Path | str, as_of: str, agency: str, url: str, table: str) -> int:
    """Upsert one agency's published package into its staging table; ``${VAR}`` in ``url``
    comes from the environment. A failure is one line naming the database (password
    hidden): :class:`TransientSourceError` when it may answer later, SourceError otherwise."""
    url = expand_env(url)
    path = package_path(out, as_of, agency)
    if not path.exists():
        raise ValueError(f"{path}: no package; run `anju feedback build --out {out} --as-of {as_of}` first")
    rows = staging_rows(pd.read_parquet(path), agency, as_of)
    try:
        return push(rows, url, table)
    except (sa.exc.ArgumentError, ImportError) as e:  # a malformed URL, an unknown dialect or driver
        raise SourceError(_shown(url), f"not a usable SQLAlchemy URL ({type(e).__name__})",
                          expected="dialect+driver://user@host/db") from None
    except sa.exc.DBAPIError as e:
        reason = (str(e.orig) if e.orig is not None else str(e)).strip().splitlines()
        reason = reason[0] if reason else type(e).__name__
        if e.statement is None or e.connection_invalidated:  # may answer later: the push task retries it
            raise TransientSourceError(_shown(url), f"cannot connect ({reason})",
                                       expected="a reachable database") from None
        raise SourceError(_shown(url), f"the push to {table} failed, nothing changed ({reason})") from None


def _shown(url: str) -> str:
    """The URL fit for a message: password hidden, even when it does not parse."""
    import re

    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (unparseable: hide what looks like a password)
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
