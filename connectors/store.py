"""The SQL store: run history and the published tables, keyed by run.

SQLite file by default, PostgreSQL (or MariaDB) in production; reached only through
SQLAlchemy, identifiers quoted by it and values bound.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.String(10), nullable=False, index=True),
    sa.Column("scope", sa.Text, nullable=False, default="all"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("parameters", sa.JSON),
    sa.Column("inputs", sa.JSON),
    sa.Column("counts", sa.JSON),
    sa.Column("timings", sa.JSON),
)
PUBLISHED = ("matches", "discrepancies", "unified", "quarantine", "other_groups")


def default_url(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'anju.sqlite').resolve()}"


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def _sql_ready(frame: pd.DataFrame, run_id: str) -> pd.DataFrame:
    f = frame.copy()
    for col in f.columns:
        if str(f[col].dtype) in ("string", "str"):
            f[col] = f[col].astype(object).where(f[col].notna(), None)
    f.insert(0, "run_id", run_id)
    return f


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)

    def ensure_schema(self) -> None:
        metadata.create_all(self.engine, tables=[runs])

    def save_run(self, record: dict, tables: dict[str, pd.DataFrame]) -> None:
        """The run row and its tables in one transaction: all of it lands, or none."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(runs.insert().values(**record))
            for name, frame in tables.items():
                _sql_ready(frame, record["run_id"]).to_sql(name, conn, if_exists="append", index=False,
                                                           chunksize=10_000)

    def run_history(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(runs).order_by(runs.c.started_at), conn)
