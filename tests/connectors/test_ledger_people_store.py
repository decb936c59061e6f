"""The people's state and the audit trail in the store, on SQLite, PostgreSQL and MariaDB."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.ledger_people_store import ledger_events, people_state, record_import
from connectors.store import Store

A, B = "0123456789abcdef", "fedcba9876543210"


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store(request, tmp_path, fresh_database):
    url = f"sqlite:///{tmp_path / 'anju.sqlite'}" if request.param == "sqlite" else fresh_database(request.param)
    s = Store(url)
    yield s
    s.engine.dispose()


def events(*rows) -> pd.DataFrame:
    cols = ["discrepancy_id", "county_code", "field", "old_value", "new_value", "source_file", "sha256",
            "row_number", "imported_at"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def state(*rows) -> pd.DataFrame:
    cols = ["discrepancy_id", "county_code", "rule", "household_no", "archive_no", "responsible_person",
            "deadline", "verdict", "note", "same_household", "source_file", "source_sha256", "source_row",
            "imported_at"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def test_migration_0003_creates_the_tables_and_the_ledger_columns(store):
    store.migrate()
    insp = sa.inspect(store.engine)
    assert {"ledger_people", "ledger_events"} <= set(insp.get_table_names())
    ledger_cols = {c["name"] for c in insp.get_columns("discrepancy_ledger")}
    assert {"overdue", "responsible_unit", "deadline", "progress", "verdict", "note", "same_household"} <= ledger_cols
    people_cols = {c["name"] for c in insp.get_columns("ledger_people")}
    assert {"discrepancy_id", "rule", "household_no", "archive_no", "verdict_values", "source_sha256"} <= people_cols
    assert insp.get_pk_constraint("ledger_people")["constrained_columns"] == ["discrepancy_id"]


def test_import_appends_events_and_replaces_state_in_one_go(store):
    t = "2020-08-01T09:00:00"
    first = record_import(store, events((A, "522425", "responsible_person", None, "张三", "台账_522425.xlsx", "aa", 2, t),
                                        (A, "522425", "deadline", None, "2020-09-30", "台账_522425.xlsx", "aa", 2, t)),
                          state((A, "522425", "REVIEW_MATCH", "H1", "A1", "张三", "2020-09-30", None, None, "是",
                                 "台账_522425.xlsx", "aa", 2, t)))
    assert first == 2
    t2 = "2020-08-02T09:00:00"
    record_import(store, events((A, "522425", "responsible_person", "张三", "李四", "台账_522425 (1).xlsx", "bb", 3, t2),
                                (B, "522425", "verdict", None, "不属实", "台账_522425 (1).xlsx", "bb", 4, t2)),
                  state((A, "522425", "REVIEW_MATCH", "H1", "A1", "李四", "2020-09-30", None, None, "是",
                         "台账_522425 (1).xlsx", "bb", 3, t2),
                        (B, "522425", "SECURED_CONFLICT", "H2", None, None, None, "不属实", "重复", None,
                         "台账_522425 (1).xlsx", "bb", 4, t2)))
    s = people_state(store)
    assert s["discrepancy_id"].tolist() == [A, B]
    assert s["responsible_person"].tolist()[0] == "李四" and s["source_row"].tolist() == [3, 4]
    assert people_state(store, counties=["522426"]).empty
    log = ledger_events(store)
    assert log["new_value"].tolist() == ["张三", "2020-09-30", "李四", "不属实"]  # appended, in order
    assert log["old_value"].tolist()[2] == "张三"
    assert ledger_events(store, ids=[B])["field"].tolist() == ["verdict"]
    assert record_import(store, events(), state()) == 0  # the same file again: nothing written


def test_a_failed_import_leaves_neither_events_nor_state(store):
    bad_state = state((A, "522425", "X", None, None, "张三", None, None, None, None, "f", "aa", 2, "t"),
                      (A, "522425", "X", None, None, "李四", None, None, None, None, "f", "aa", 3, "t"))  # key twice
    with pytest.raises(Exception):
        record_import(store, events((A, "522425", "responsible_person", None, "张三", "f", "aa", 2, "t")), bad_state)
    assert ledger_events(store).empty and people_state(store).empty


def test_migration_0003_downgrades_and_upgrades_again(tmp_path):
    from alembic import command
    from alembic.config import Config

    from connectors.store import MIGRATIONS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0002")
        insp = sa.inspect(conn)
        assert not {"ledger_people", "ledger_events"} & set(insp.get_table_names())
        assert "overdue" not in {c["name"] for c in insp.get_columns("discrepancy_ledger")}
        command.upgrade(cfg, "head")
        assert {"ledger_people", "ledger_events"} <= set(sa.inspect(conn).get_table_names())
