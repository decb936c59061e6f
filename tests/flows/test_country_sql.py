"""``anju country`` over database tables: each table read in ranges of its key on the
workers gives the tables ``anju reconcile`` gives reading the same tables whole, byte for
byte, rows without a key quarantined under the same row numbers (issue 21)."""
from __future__ import annotations

import uuid
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import database_url
from tests.flows.test_country import TABLES, national

pytestmark = pytest.mark.slow
AS_OF = date(2020, 7, 31)
SOURCES = ("ps_households", "ps_members", "ha_archive")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """A generated world's three exports as the agencies lay them out, with a household
    and an archive record without their keys."""
    from anju_synth import build_world, write_world
    from anju_synth.layout import HA_HEADERS, PS_HEADERS

    out = tmp_path_factory.mktemp("world")
    write_world(build_world(3000, seed=11), out, seed=11, fmt="parquet")
    frames = {s: pd.read_parquet(out / f"{s}.parquet") for s in SOURCES}
    frames["ps_households"].loc[[3, 2000], PS_HEADERS["household_no"]] = None
    frames["ha_archive"].loc[7, HA_HEADERS["archive_no"]] = None
    return frames


@pytest.fixture(params=["sqlite", "postgres"])
def tables(request, exports, tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'agencies.sqlite'}" if request.param == "sqlite" else database_url("postgres")
    engine = sa.create_engine(url)
    names = {s: f"{s}_{uuid.uuid4().hex[:6]}" for s in SOURCES}
    for s, name in names.items():
        exports[s].to_sql(name, engine, index=False)
    yield {s: f"{url}#{name}" for s, name in names.items()}
    with engine.begin() as conn:
        for name in names.values():
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(name)}"))
    engine.dispose()


def test_tables_read_in_ranges_publish_what_a_whole_read_publishes(harness, tables, tmp_path):
    from flows.country_flow import country
    from flows.reconcile_flow import reconcile

    (tmp_path / "single").mkdir()
    (tmp_path / "country").mkdir()
    reconcile(**tables, as_of=AS_OF, out=str(tmp_path / "single"))
    run = country(**tables, as_of=AS_OF, out=str(tmp_path / "country"), partition_records=700)
    assert run["parameters"]["partitions"] >= 5
    assert min(i["ranges"] for i in run["inputs"].values()) > 1
    single, live = tmp_path / "single" / AS_OF.isoformat(), tmp_path / "country" / AS_OF.isoformat()
    for name in TABLES:
        assert national(live, name, tmp_path / f"{name}.parquet") == (single / f"{name}.parquet").read_bytes(), name
    quarantined = pd.read_parquet(single / "quarantine.parquet")
    assert len(quarantined) >= 3
    for name, i in run["inputs"].items():
        assert i["rows_read"] == i["rows_used"] + i["rows_quarantined"], name
