"""The SQL store on SQLite and on the real PostgreSQL and MariaDB servers."""
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.store import Store


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store_url(request, tmp_path, fresh_database):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'anju.sqlite'}"
    return fresh_database(request.param)


def test_schema_comes_from_the_migrations(store_url):
    store = Store(store_url)
    store.migrate()
    store.migrate()  # idempotent
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"alembic_version", "runs", "matches", "discrepancies", "unified", "quarantine", "other_groups",
            "discrepancy_ledger"} <= names


def test_run_tables_and_ledger_land_together(store_url):
    run_id = f"t-{uuid.uuid4().hex[:10]}"
    as_of = f"19{uuid.uuid4().int % 90 + 10}-01-01"  # a date no other test uses
    store = Store(store_url)
    matches = pd.DataFrame({"household_no": pd.Series(["H1", None], dtype="string"), "archive_no": ["A1", "A2"],
                            "score": [1.0, 0.5], "not_in_schema": [1, 2]})
    ledger = pd.DataFrame({"discrepancy_id": ["0123456789abcdef"], "rule": ["HA_MISSING"], "county_code": ["522425"],
                           "household_no": ["H1"], "archive_no": [None], "field": [None], "status": ["new"],
                           "first_seen": [as_of], "last_seen": [as_of], "resolved_at": [None],
                           "changed_by_run": [run_id]})
    store.save_run({"run_id": run_id, "as_of": as_of, "scope": "all", "status": "published",
                    "started_at": "2020-08-01T00:00:00", "finished_at": None, "parameters": {"a": "户"},
                    "inputs": {}, "counts": {"matches": 2}, "timings": {}}, {"matches": matches}, ledger)
    with store.engine.connect() as conn:
        back = pd.read_sql(sa.text("select * from matches where run_id = :r order by archive_no"), conn,
                           params={"r": run_id})
    assert back["household_no"][0] == "H1" and pd.isna(back["household_no"][1])
    assert back["score"].tolist() == [1.0, 0.5]
    assert run_id in store.run_history()["run_id"].tolist()
    assert store.ledger_at(as_of)["discrepancy_id"].tolist() == ["0123456789abcdef"]


def test_failed_write_leaves_nothing_behind(store_url):
    run_id = f"t-{uuid.uuid4().hex[:10]}"
    store = Store(store_url)
    broken_ledger = pd.DataFrame({"discrepancy_id": ["0123456789abcdef"], "rule": ["HA_MISSING"],
                                  "county_code": ["522425"], "household_no": ["H1"], "archive_no": [None],
                                  "field": [None], "status": [None],  # NOT NULL: the write fails here
                                  "first_seen": ["1999-01-01"], "last_seen": [None], "resolved_at": [None],
                                  "changed_by_run": [run_id]})
    with pytest.raises(Exception, match="(?i)null"):  # pandas may wrap the IntegrityError
        store.save_run({"run_id": run_id, "as_of": "1999-01-01", "scope": "all", "status": "published",
                        "started_at": "x", "finished_at": None, "parameters": {}, "inputs": {}, "counts": {},
                        "timings": {}}, {"matches": pd.DataFrame({"archive_no": ["A9"], "score": [1.0]})},
                       broken_ledger)
    assert run_id not in store.run_history()["run_id"].tolist()
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from matches where run_id = :r"), {"r": run_id}).scalar() == 0


@pytest.mark.parametrize("url", ["postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/x",
                                 "mysql+pymysql://root:s3cret@127.0.0.1:1/x"])
def test_an_unreachable_store_is_one_message_naming_the_server(url):
    """Not a driver traceback: a StoreUnavailable that names the server, password hidden,
    and says it may pass (the publish task retries it)."""
    from connectors.store import StoreUnavailable

    store = Store(url)
    for call in (store.migrate, store.run_history, lambda: store.run_lock("2020-07-31").__enter__()):
        with pytest.raises(StoreUnavailable) as e:
            call()
        assert "127.0.0.1:1" in str(e.value) and "s3cret" not in str(e.value) and e.value.transient


def test_a_malformed_store_url_is_a_store_error():
    from connectors.store import StoreError

    with pytest.raises(StoreError, match="not a usable SQLAlchemy URL") as e:
        Store("postgresql+nodriver://u:s3cret@h/db")
    assert "s3cret" not in str(e.value)


def test_a_run_is_stored_then_marked_published(store_url):
    """Two steps, so a run killed between the store commit and the swap of its folder is
    never listed as published."""
    run_id = f"t-{uuid.uuid4().hex[:10]}"
    store = Store(store_url)
    store.save_run({"run_id": run_id, "as_of": "1998-01-01", "scope": "all", "status": "stored", "started_at": "x",
                    "finished_at": None, "parameters": {}, "inputs": {}, "counts": {}, "timings": {}}, {})
    status = lambda: store.run_history().set_index("run_id").loc[run_id, "status"]  # noqa: E731
    assert status() == "stored"
    store.mark_published(run_id)
    assert status() == "published"


def test_explanations_are_stored_and_an_older_store_is_upgraded_without_losing_a_row(store_url):
    """Migration 0002 adds the scored-match explanation columns to a store made by 0001."""
    from alembic import command
    from alembic.config import Config

    from connectors.store import MIGRATIONS

    store = Store(store_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:  # a store as the first release left it, with a run in it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(sa.text("INSERT INTO runs (run_id, as_of, scope, status, started_at) "
                             "VALUES ('old', '1900-01-01', 'all', 'published', '1900-01-02T00:00:00')"))
        conn.execute(sa.text("INSERT INTO matches (run_id, household_no, archive_no, method, score) "
                             "VALUES ('old', 'H0', 'A0', 'id_exact', 1.0)"))
    store.migrate()
    cols = {t: {c["name"] for c in sa.inspect(store.engine).get_columns(t)} for t in ("matches", "discrepancies")}
    assert {"weights", "explanation"} <= cols["matches"] and "explanation" in cols["discrepancies"]
    run_id = f"x-{uuid.uuid4().hex[:10]}"
    matches = pd.DataFrame({"household_no": ["H1"], "archive_no": ["A1"], "method": ["fuzzy"], "score": [0.97],
                            "weights": ['{"name": 3.7}'], "explanation": ["姓名相同 +3.7"]})
    store.save_run({"run_id": run_id, "as_of": "1901-01-01", "scope": "all", "status": "published",
                    "started_at": "2020-08-01T00:00:00", "finished_at": None, "parameters": {}, "inputs": {},
                    "counts": {}, "timings": {}}, {"matches": matches})
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT run_id, explanation, weights FROM matches ORDER BY run_id")).fetchall()
    assert [tuple(r) for r in rows] == [("old", None, None), (run_id, "姓名相同 +3.7", '{"name": 3.7}')]
