"""The SQL store on SQLite and on the real PostgreSQL and MariaDB servers."""
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.store import Store
from tests.conftest import database_url


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'anju.sqlite'}"
    return database_url(request.param)


def test_run_and_tables_land_together(store_url):
    run_id = f"t-{uuid.uuid4().hex[:10]}"
    table = f"matches_{uuid.uuid4().hex[:8]}"
    store = Store(store_url)
    frame = pd.DataFrame({"household_no": pd.Series(["H1", None], dtype="string"), "score": [1.0, 0.5]})
    store.save_run({"run_id": run_id, "as_of": "2020-07-31", "scope": "all", "status": "published",
                    "started_at": "2020-08-01T00:00:00", "finished_at": None, "parameters": {"a": "户"},
                    "inputs": {}, "counts": {"matches": 2}, "timings": {}}, {table: frame})
    with store.engine.connect() as conn:
        back = pd.read_sql(sa.text(f'select * from {table} where run_id = :r'), conn, params={"r": run_id})
        conn.commit()
    assert back["household_no"][0] == "H1" and pd.isna(back["household_no"][1])
    assert back["score"].tolist() == [1.0, 0.5]
    hist = store.run_history()
    assert run_id in hist["run_id"].tolist()
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"drop table {table}"))
