"""History as changes: the store's as-of queries answer what a full snapshot of the date held.

The reference is a naive model: a dict of full snapshots by as_of, a run replacing its
date's snapshot (a scoped run: its counties only, the others as of the date), the state
as of D being the snapshot of the latest date on or before D. Runs come in random date
order, with re-runs and scoped runs, on SQLite always and on PostgreSQL and MariaDB.
"""
import random
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.history import KEYS, LEDGER, ORDER
from connectors.store import Store

DATES = [f"2021-0{m}-{d:02d}" for m in (1, 2) for d in (3, 9, 17, 28)]
BETWEEN = ["2020-12-31", "2021-01-05", "2021-02-20", "2021-03-01"]  # dates no run is for
COUNTIES = ["522425", "522426", "522427"]


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store_url(request, tmp_path, fresh_database):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'anju.sqlite'}"
    return fresh_database(request.param)


def _record(as_of: str, scope="all") -> dict:
    return {"run_id": f"t-{uuid.uuid4().hex[:12]}", "as_of": as_of, "scope": scope, "status": "stored",
            "started_at": "2021-01-01T00:00:00", "finished_at": None, "parameters": {}, "inputs": {},
            "counts": {}, "timings": {}}


def _unified(rng: random.Random, as_of: str) -> pd.DataFrame:
    """A few households, each with a value from a tiny domain: rows often equal an earlier date's."""
    ids = sorted(rng.sample([f"U{i:03d}" for i in range(14)], rng.randint(0, 12)))
    n = len(ids)
    pick = lambda *vals: [rng.choice(vals) for _ in range(n)]  # noqa: E731
    return pd.DataFrame({
        "unified_id": pd.Series(ids, dtype="string"),
        "household_no": pd.Series([i.replace("U", "H") for i in ids], dtype="string"),
        "county_code": pd.Series([COUNTIES[int(i[1:]) % 3] for i in ids], dtype="string"),
        # what PostgreSQL's COPY text format must escape (tab, line ends, backslash, its null)
        "householder_name": pd.Series(pick("张三", "李四", None, "=1+1", "", "a\tb", "x\ny\r", "c:\\d", "\\N"),
                                      dtype="string"),
        "household_size": pd.Series(pick(1, 3, None), dtype="Int64"),
        "in_ps": pd.Series(pick(True, False), dtype=bool),
        "housing_secured": pd.Series(pick(True, False, None), dtype="boolean"),
        "completion_date": pd.to_datetime(pd.Series(pick("2020-05-01 00:00:00", None, "2020-06-30 12:00:00")),
                                          format="%Y-%m-%d %H:%M:%S"),
        "subsidy_yuan": pd.Series(pick(0.1, 35000.0, None, 1e17), dtype="Float64"),
        "match_score": pd.Series(pick(0.1 + 0.2, 1.0, np.nan), dtype="float64"),
        "open_discrepancies": pd.Series(pick(0, 2), dtype="int64"),
    })


def _quarantine(rng: random.Random, as_of: str) -> pd.DataFrame:
    """A key (source, row_number) that may repeat within one snapshot."""
    rows = sorted((rng.choice(["ha_archive", "ps_households"]), rng.randint(1, 5)) for _ in range(rng.randint(0, 8)))
    n = len(rows)
    return pd.DataFrame({
        "source": pd.Series([r[0] for r in rows], dtype="string"),
        "row_number": pd.Series([r[1] for r in rows], dtype="int64"),
        "county_code": pd.Series([rng.choice(COUNTIES + [None]) for _ in range(n)], dtype="string"),
        "value": pd.Series([rng.choice(["a", "b|c", None, "\\.", "\t\\N\n"]) for _ in range(n)], dtype="string"),
        "reason": pd.Series([rng.choice(["x", "y"]) for _ in range(n)], dtype="string"),
    })


def _ledger(rng: random.Random, as_of: str) -> pd.DataFrame:
    """last_seen is often the run's own date (seen again), sometimes an earlier one."""
    ids = sorted(rng.sample([f"{i:016x}" for i in range(12)], rng.randint(0, 10)))
    n = len(ids)
    return pd.DataFrame({
        "discrepancy_id": ids, "rule": ["HA_MISSING"] * n,
        "county_code": [COUNTIES[int(i, 16) % 3] for i in ids], "household_no": ["H1"] * n,
        "archive_no": [None] * n, "field": [None] * n,
        "status": [rng.choice(["new", "open", "resolved"]) for _ in range(n)],
        "first_seen": ["2020-12-01"] * n,
        "last_seen": [rng.choice([as_of, as_of, "2020-12-15"]) for _ in range(n)],
        "resolved_at": [rng.choice([None, "2020-12-20"]) for _ in range(n)],
        "changed_by_run": [rng.choice(["r1", "r2"]) for _ in range(n)],
    }).astype("string")


def _alert_ledger(rng: random.Random, as_of: str) -> pd.DataFrame:
    """The alert ledger: its last_seen stored as the run's own date too (a version per change)."""
    led = _ledger(rng, as_of).rename(columns={"discrepancy_id": "alert_id", "rule": "alert"})
    return led.drop(columns="field").assign(alert="SECURED_LOST")


def _records_ha(rng: random.Random, as_of: str) -> pd.DataFrame:
    """HA records: an archive number may repeat (a household's second record)."""
    arch = sorted(rng.choice([f"A{i:02d}" for i in range(8)]) for _ in range(rng.randint(0, 9)))
    n = len(arch)
    return pd.DataFrame({
        "_row": pd.Series(range(2, n + 2), dtype="int64"), "archive_no": pd.Series(arch, dtype="string"),
        "danger_grade": pd.Series([rng.choice(["B", "D", None]) for _ in range(n)], dtype="string"),
        "start_date": pd.to_datetime(pd.Series([rng.choice(["2020-03-01", None]) for _ in range(n)])),
        "county_code": pd.Series([COUNTIES[int(a[1:]) % 3] for a in arch], dtype="string"),
        "secured": pd.Series([rng.choice([True, False, None]) for _ in range(n)], dtype="boolean"),
    })


MAKERS = {"unified": _unified, "quarantine": _quarantine, "records_ha": _records_ha, "alert_ledger": _alert_ledger,
          LEDGER: _ledger}


def _ordered(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(dict.fromkeys(ORDER[name] + KEYS[name])), na_position="first",
                             kind="stable").reset_index(drop=True)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Plain values, so a stored row equals its model row whatever the backend's types."""
    f = frame.reindex(columns=columns)
    out = []
    for row in f.astype(object).itertuples(index=False):
        out.append(tuple(None if v is None or v is pd.NaT or (not isinstance(v, str) and pd.isna(v))
                         else (bool(v) if isinstance(v, (bool, np.bool_)) else
                               float(v) if isinstance(v, (float, np.floating)) else
                               int(v) if isinstance(v, (int, np.integer)) else v) for v in row))
    return out


class Model:
    """Full snapshots by date: what the store must answer."""

    def __init__(self):
        self.snapshots: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in MAKERS}

    def as_of(self, name: str, d: str) -> pd.DataFrame:
        dates = [k for k in self.snapshots[name] if k <= d]
        return self.snapshots[name][max(dates)] if dates else None

    def write(self, name: str, d: str, frame: pd.DataFrame, scope: list[str] | None) -> None:
        if scope is not None:
            base = self.as_of(name, d)
            if base is not None:
                kept = base[~base["county_code"].isin(scope).fillna(False).astype(bool)]
                frame = pd.concat([kept.astype(frame.dtypes.to_dict(), errors="ignore"), frame], ignore_index=True)
        self.snapshots[name][d] = _ordered(name, frame)


def _check(store: Store, model: Model, name: str, dates: list[str], rng: random.Random) -> None:
    columns = list(store.table_as_of(name, "1900-01-01").columns)
    for d in dates:
        want = model.as_of(name, d)
        got = store.table_as_of("ledger" if name == LEDGER else name, d)  # the published name works too
        assert list(got.columns) == columns
        assert _rows(got, columns) == (_rows(want, columns) if want is not None else []), (name, d)
        # a few columns only (monitoring's read): the same rows, the same order
        some = rng.sample(columns, rng.randint(1, 3))
        narrow = store.table_as_of(name, d, columns=some)
        assert list(narrow.columns) == some and _rows(narrow, some) == _rows(got, some), (name, d, some)
    for _ in range(4):
        d1, d2 = rng.sample(dates, 2)
        a, b = (model.as_of(name, d) for d in (d1, d2))
        a = _rows(a, columns) if a is not None else []
        b = _rows(b, columns) if b is not None else []
        changes = store.changes_between(name, d1, d2)
        got_before = _rows(changes[changes["side"] == "before"], columns)
        got_after = _rows(changes[changes["side"] == "after"], columns)
        # the naive diff: rows of one date that the other does not hold (as multisets)
        assert sorted(got_before, key=repr) == sorted(_minus(a, b), key=repr), (name, d1, d2)
        assert sorted(got_after, key=repr) == sorted(_minus(b, a), key=repr), (name, d1, d2)


def _minus(a: list[tuple], b: list[tuple]) -> list[tuple]:
    left = list(b)
    out = []
    for row in a:
        if row in left:
            left.remove(row)
        else:
            out.append(row)
    return out


def _play(url: str, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    store, model = Store(url), Model()
    for step in range(steps):
        d = rng.choice(DATES)  # any date, earlier or later than those already run, or again
        scope = sorted(rng.sample(COUNTIES, rng.randint(1, 2))) if rng.random() < 0.3 else None
        frames = {name: make(rng, d) for name, make in MAKERS.items()}
        if scope is not None:
            frames = {n: f[f["county_code"].isin(scope).fillna(False).astype(bool)].reset_index(drop=True)
                      for n, f in frames.items()}
        ledger = frames.pop(LEDGER)
        store.save_run(_record(d, ",".join(scope) if scope else "all"), frames, ledger, scope, scope=scope)
        for name, frame in {**frames, LEDGER: ledger}.items():
            model.write(name, d, frame, scope)
        if step % 4 == 3 or step == steps - 1:
            for name in MAKERS:
                _check(store, model, name, sorted(set(DATES + BETWEEN)), rng)
    store.engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_as_of_queries_answer_what_full_snapshots_held_on_sqlite(tmp_path, seed):
    _play(f"sqlite:///{tmp_path / 'anju.sqlite'}", seed, steps=12)


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_as_of_queries_answer_what_full_snapshots_held_on_servers(fresh_database, kind):
    _play(fresh_database(kind), 7, steps=10)


OLD = ("unified", "quarantine", LEDGER)  # tables revision 0003 had of those the model plays


def _old_store(url: str):
    """A store as revision 0003 left it: a copy of every table per run, the ledger per as_of."""
    from alembic import command
    from alembic.config import Config

    from connectors.store import MIGRATIONS

    store = Store(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    return store


def _play_old(store: Store, seed: int) -> dict:
    """Runs written the old way, in random date order with re-runs: the snapshot of a date
    is its latest run's copy (the ledger: its as_of rows, replaced by each run)."""
    rng = random.Random(seed)
    snapshots: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in OLD}
    for step in range(10):
        d = rng.choice(DATES[:5])
        run_id = f"old-{step:02d}"
        frames = {name: MAKERS[name](rng, d) for name in OLD}
        # 0003 made float columns FLOAT: single precision on MariaDB, so values it holds exactly
        for col in ("subsidy_yuan", "match_score"):
            frames["unified"][col] = frames["unified"][col].mask(frames["unified"][col] < 1, 0.25)
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO runs (run_id, as_of, scope, status, started_at) "
                                 "VALUES (:r, :d, 'all', 'published', :s)"), {"r": run_id, "d": d,
                                                                              "s": f"2021-03-01T00:00:{step:02d}"})
            for name in ("unified", "quarantine"):
                frames[name].assign(run_id=run_id).to_sql(name, conn, if_exists="append", index=False)
            conn.execute(sa.text(f"DELETE FROM {LEDGER} WHERE as_of = :d"), {"d": d})
            frames[LEDGER].assign(as_of=d).to_sql(LEDGER, conn, if_exists="append", index=False)
        for name, frame in frames.items():
            snapshots[name][d] = _ordered(name, frame)
    return snapshots


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_migration_moves_every_snapshot_into_intervals(kind, tmp_path, fresh_database):
    url = f"sqlite:///{tmp_path / 'anju.sqlite'}" if kind == "sqlite" else fresh_database(kind)
    store = _old_store(url)
    snapshots = _play_old(store, seed=5)
    with store.engine.connect() as conn:
        copies = conn.execute(sa.text("SELECT COUNT(*) FROM unified")).scalar()
    store.migrate()
    model = Model()
    model.snapshots = snapshots
    for name in OLD:
        columns = list(store.table_as_of(name, "1900-01-01").columns)
        for d in sorted(set(DATES + BETWEEN)):
            want = model.as_of(name, d)
            assert _rows(store.table_as_of(name, d), columns) == (_rows(want, columns) if want is not None else []), \
                (name, d)
    with store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT COUNT(*) FROM unified")).scalar()
    assert versions < copies  # unchanged rows became one version
    # and the migrated store goes on as a history store
    _check(store, model, LEDGER, sorted(set(DATES + BETWEEN)), random.Random(1))
    store.engine.dispose()


def test_an_unchanged_rerun_writes_nothing_and_a_change_writes_only_itself(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    rng = random.Random(3)
    unified = _unified(rng, DATES[0])
    while len(unified) < 3:
        unified = _unified(rng, DATES[0])
    count = lambda: store.engine.connect().execute(sa.text("SELECT COUNT(*) FROM unified")).scalar()  # noqa: E731
    store.save_run(_record(DATES[0]), {"unified": unified})
    first = count()
    for d in DATES[1:4]:
        store.save_run(_record(d), {"unified": unified})
    assert count() == first == len(unified)
    changed = unified.copy()
    changed.loc[1, "household_size"] = 7
    store.save_run(_record(DATES[4]), {"unified": changed})
    assert count() == first + 1
    assert store.changes_between("unified", DATES[3], DATES[4])["side"].tolist() == ["before", "after"]


def test_the_ledger_methods_keep_their_meaning(tmp_path):
    """ledger_at: only what a run for that very date stored; ledger_before: the latest
    earlier date's; a scoped run carries the other counties over from the latest date."""
    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    rng = random.Random(9)
    led = _ledger(rng, DATES[0])
    while led["county_code"].nunique() < 2:
        led = _ledger(rng, DATES[0])
    store.save_run(_record(DATES[0]), {}, led)
    assert store.ledger_at(DATES[1]).empty
    assert _rows(store.ledger_before(DATES[1]), list(led.columns)) == _rows(_ordered(LEDGER, led), list(led.columns))
    scope = [led["county_code"].iloc[0]]
    mine = led[led["county_code"].isin(scope)].assign(status="resolved", resolved_at=DATES[1])
    store.save_run(_record(DATES[1], scope[0]), {}, mine, scope)
    at = store.ledger_at(DATES[1])
    assert len(at) == len(led)
    assert set(at.loc[at["county_code"].isin(scope), "status"]) == {"resolved"}
    others = at[~at["county_code"].isin(scope)]
    assert _rows(others, list(led.columns)) == _rows(_ordered(LEDGER, led[~led["county_code"].isin(scope)]),
                                                     list(led.columns))
    history = store.ledger_history()
    open_then = int(led["status"].isin(["new", "open", "reopened"]).sum())
    assert history.set_index("as_of")["open"].get(DATES[0]) == open_then


def test_the_store_orders_tables_as_the_stages_publish_them():
    """connectors may not import reconcile: the published order is written in both places
    (reconcile.scope.ORDER, connectors.history.ORDER) and must agree."""
    from reconcile.scope import ORDER as PUBLISHED_ORDER

    assert {name: ORDER[name] for name in KEYS if name in PUBLISHED_ORDER} == \
        {name: PUBLISHED_ORDER[name] for name in KEYS if name in PUBLISHED_ORDER}


def test_a_snapshot_without_a_required_column_is_refused_and_extra_columns_are_not_stored(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    alerts = pd.DataFrame({"alert_id": ["00000000000000a1"], "alert": ["SECURED_LOST"], "county_code": ["522425"],
                           "household_no": ["H1"], "not_a_column": ["x"]})
    with pytest.raises(ValueError, match="alert_ledger: the snapshot lacks required column.*status, first_seen"):
        store.save_run(_record(DATES[0]), {"alert_ledger": alerts})
    with pytest.raises(ValueError, match="alerts: the snapshot lacks required column.*alert_id"):
        store.save_run(_record(DATES[0]), {"alerts": alerts.drop(columns="alert_id")})
    assert store.run_history().empty  # nothing of a refused run is stored
    store.save_run(_record(DATES[0]), {"alerts": alerts})
    got = store.table_as_of("alerts", DATES[0])
    assert "not_a_column" not in got and got["household_no"].tolist() == ["H1"] and got["severity"].isna().all()
    store.engine.dispose()


def test_other_groups_read_back_as_the_published_file_and_0005_keeps_the_old_rows(tmp_path):
    """0005 makes other_groups as wide as other_groups.parquet, in its column order, and
    carries the three-column versions 0004 kept."""
    from alembic import command
    from alembic.config import Config

    from connectors.store import MIGRATIONS

    store = Store(f"sqlite:///{tmp_path / 'anju.sqlite'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    narrow = pd.DataFrame({"archive_no": ["X1", "X2"], "county_code": ["522425", "522426"],
                           "target_type": ["一般户", "低保户"]})
    store.save_run(_record(DATES[0]), {"other_groups": narrow})  # written through 0004's table
    store._reflected.clear()
    store._migrated = False
    store.migrate()
    old = store.table_as_of("other_groups", DATES[0])
    assert old[["archive_no", "county_code", "target_type"]].astype(object).values.tolist() == \
        narrow.values.tolist()
    wide = pd.read_csv("tests/reference/sample/2020-07-31/other_groups.csv.gz", dtype=str, nrows=30)
    assert list(old.columns) == list(wide.columns)
    store.engine.dispose()


@pytest.mark.parametrize("max_stages", [2, 8])
def test_as_of_queries_hold_when_big_inserts_are_staged(tmp_path, monkeypatch, max_stages):
    """Every insert of one row or more through a stage file (connectors.sqlite_stage), as
    a province's first night writes its tables, and past the stages a connection may
    hold, row by row again: the store still answers what the full snapshots held."""
    from connectors import sqlite_stage

    monkeypatch.setattr(sqlite_stage, "STAGE_ROWS", 1)
    monkeypatch.setattr(sqlite_stage, "MAX_STAGES", max_stages)
    staged = []
    real = sqlite_stage._Stages.insert
    monkeypatch.setattr(sqlite_stage._Stages, "insert", lambda self, *a: staged.append(1) or real(self, *a))
    _play(f"sqlite:///{tmp_path / 'anju.sqlite'}", 4, steps=8)
    assert len(staged) > 8  # the stages were used, and more inserts than one transaction's stages
    assert not list(tmp_path.glob(".anju-stage-*"))  # every stage removed
