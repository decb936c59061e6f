"""The 台账 round trip with people in the loop (issue 18), on SQLite, PostgreSQL and MariaDB:
export, fill the workbook as a county officer would, import, run the next date.

Both dates run through the core stages and the store (the flow's path, without Prefect):
the next date with the people's state (``finish_match(decisions=...)``,
``track_ledger(people=...)``), as the flow does once the coordinator applies the flow
lines of issue 18's report; then these tests can drive ``reconcile_flow`` instead.
"""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import reconcile
from connectors import ledger_people_store as people_store
from connectors.store import Store, default_url
from flows import ledger_cmd
from schemas.ledger_people import header_of

pytestmark = pytest.mark.slow
D1, D2 = date(2020, 7, 31), date(2020, 8, 31)
SOURCES = ("ps_households", "ps_members", "ha_archive")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    from anju_synth import build_world, write_world

    out = tmp_path_factory.mktemp("exports")
    write_world(build_world(800, seed=21), out, seed=21, fmt="parquet")
    return out


@pytest.fixture
def asks_more(monkeypatch):
    """Every scored pair short of certain goes to a person: the small world then has
    REVIEW_MATCH items to answer (the thresholds are data, matching.yaml)."""
    import reconcile.match_scored as scored

    settings = scored.load_matching_settings()
    monkeypatch.setattr(scored, "load_matching_settings", lambda: {**settings, "accept": 1.01})


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def store_url(request, fresh_database):
    return None if request.param == "sqlite" else fresh_database(request.param)


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser(prog="anju")
    ledger_cmd.add_ledger_parser(p.add_subparsers(dest="command", required=True))
    return ledger_cmd.cmd_ledger(p.parse_args(list(argv)))


def store_args(url):
    return ["--store", url] if url else []


def fill(path: Path, answers: dict[str, dict[str, object]]) -> None:
    """What a county officer does: open the workbook, type into the people's columns, save."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    header = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        key = row[header[header_of("discrepancy_id")] - 1].value
        for name, value in answers.get(key, {}).items():
            ws.cell(row=row[0].row, column=header[header_of(name)], value=value)
    wb.save(path)


def run_date(exports: Path, store: Store, as_of: date, people: bool = True):
    """A date's run through the core stages, honouring the people's state, stored."""
    from connectors import read_source
    from schemas.config import load_source_specs

    specs = load_source_specs()
    raw = {n: read_source(exports / f"{n}.parquet", specs[n]).frame for n in SOURCES}
    people = people_store.people_state(store) if people else None
    settings = reconcile.Settings(as_of=as_of)
    canon = reconcile.normalize(raw, specs, settings)
    ids = reconcile.match_by_id(canon)
    parts = [reconcile.candidates(p) for p in reconcile.partitions(ids.residual)]
    model = reconcile.fit_model(ids.residual, parts)
    matched = reconcile.finish_match(canon, ids, [reconcile.score(c, model) for c in parts], model, decisions=people)
    disc = reconcile.find_discrepancies(canon, matched, settings)
    d = as_of.isoformat()
    run_id = f"run-{d}"
    tracked = reconcile.track_ledger(disc, store.ledger_before(d), store.ledger_at(d), d, run_id, people=people)
    store.save_run({"run_id": run_id, "as_of": d, "scope": "all", "status": "published", "started_at": d,
                    "finished_at": d, "parameters": {}, "inputs": {}, "counts": {}, "timings": {}},
                   {"discrepancies": tracked.discrepancies}, tracked.ledger)
    return matched, tracked


def test_round_trip_export_fill_import_next_run(exports, tmp_path, store_url, asks_more):
    out = tmp_path / "out"
    out.mkdir()
    store = Store(store_url or default_url(out))
    ledger = run_date(exports, store, D1, people=False)[1].ledger
    review = ledger[ledger["rule"] == "REVIEW_MATCH"].sort_values("discrepancy_id")
    others = ledger[(ledger["rule"] != "REVIEW_MATCH") & (ledger["county_code"] == review["county_code"].iloc[0])]
    assert len(review) >= 2 and len(others) >= 2
    county = review["county_code"].iloc[0]
    review = review[review["county_code"] == county]
    yes, no = review.iloc[0], review.iloc[1]
    waive, late = others.iloc[0], others.iloc[1]

    assert cli("ledger", "export", "--out", str(out), "--as-of", D1.isoformat(), "--counties", county,
               *store_args(store_url)) == 0
    book = out / "ledger" / D1.isoformat() / county / f"台账_{county}.xlsx"
    fill(book, {yes["discrepancy_id"]: {"same_household": "是", "responsible_person": "张三"},
                no["discrepancy_id"]: {"same_household": "否"},
                waive["discrepancy_id"]: {"verdict": "不属实", "note": "已实地核实，系录入重复"},
                late["discrepancy_id"]: {"deadline": date(2020, 8, 15), "responsible_unit": "某某镇人民政府",
                                         "progress": "整改中"}})
    assert cli("ledger", "import", str(book), "--out", str(out), *store_args(store_url)) == 0
    events = people_store.ledger_events(store)
    assert len(events) == 8  # every cell typed is one event
    assert cli("ledger", "import", str(book), "--out", str(out), *store_args(store_url)) == 0
    assert len(people_store.ledger_events(store)) == 8  # the same file twice: no change

    matched, tracked = run_date(exports, store, D2)
    m = matched.matches.set_index("archive_no")
    assert m.loc[yes["archive_no"], "method"] == "clerical" and m.loc[yes["archive_no"], "score"] == 1.0
    assert m.loc[yes["archive_no"], "household_no"] == yes["household_no"]
    pair = (matched.review["household_no"] == no["household_no"]) & (matched.review["archive_no"] == no["archive_no"])
    assert not pair.any()
    assert not ((matched.matches["household_no"] == no["household_no"])
                & (matched.matches["archive_no"] == no["archive_no"])).any()
    led = tracked.ledger.set_index("discrepancy_id")
    assert led.loc[waive["discrepancy_id"], "status"] == "waived"
    assert bool(led.loc[late["discrepancy_id"], "overdue"]) is True
    assert led.loc[late["discrepancy_id"], "responsible_unit"] == "某某镇人民政府"
    assert led.loc[yes["discrepancy_id"], "status"] == "resolved"  # no longer asked: matched
    assert led.loc[no["discrepancy_id"], "status"] == "resolved"   # no longer asked: rejected
    audit = people_store.ledger_events(store)
    assert set(zip(audit["discrepancy_id"], audit["field"])) == {
        (yes["discrepancy_id"], "same_household"), (yes["discrepancy_id"], "responsible_person"),
        (no["discrepancy_id"], "same_household"), (waive["discrepancy_id"], "verdict"),
        (waive["discrepancy_id"], "note"), (late["discrepancy_id"], "deadline"),
        (late["discrepancy_id"], "responsible_unit"), (late["discrepancy_id"], "progress")}
    assert (audit["source_file"] == book.name).all() and audit["sha256"].str.len().eq(64).all()
    stored = store.ledger_as_of(D2.isoformat()).set_index("discrepancy_id")  # the store keeps what was honoured
    assert stored.loc[waive["discrepancy_id"], "status"] == "waived"
    assert stored.loc[late["discrepancy_id"], "overdue"] in (True, "True")
    assert stored.loc[late["discrepancy_id"], "deadline"] == "2020-08-15"
    store.engine.dispose()
    # the next export lists what was resolved since the last one, to confirm, and the verdicts
    assert cli("ledger", "export", "--out", str(out), "--as-of", D2.isoformat(), "--counties", county,
               *store_args(store_url)) == 0
    ws = openpyxl.load_workbook(out / "ledger" / D2.isoformat() / county / f"台账_{county}.xlsx").worksheets[0]
    grid = pd.DataFrame(list(ws.values)[1:], columns=[c.value for c in ws[1]]).set_index("问题编号")
    assert grid.loc[yes["discrepancy_id"], "状态"] == "已解决" and grid.loc[no["discrepancy_id"], "状态"] == "已解决"
    assert grid.loc[waive["discrepancy_id"], "状态"] == "已核销"
    assert grid.loc[late["discrepancy_id"], "是否逾期"] == "是"
    assert grid.loc[late["discrepancy_id"], "整改责任单位"] == "某某镇人民政府"


def test_bad_rows_are_refused_one_line_each_the_rest_imported(exports, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    store = Store(default_url(out))
    ledger = run_date(exports, store, D1, people=False)[1].ledger
    assert cli("ledger", "export", "--out", str(out), "--as-of", D1.isoformat()) == 0
    a, b = sorted(ledger["county_code"].unique())[:2]
    book = out / "ledger" / D1.isoformat() / a / f"台账_{a}.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    header = {c.value: c.column for c in ws[1]}
    ws.cell(row=2, column=header["整改进展"], value="差不多了")          # not in the list
    ws.cell(row=3, column=header["整改时限"], value="下个月")            # not a date
    ws.cell(row=4, column=header["问题编号"], value=ledger[ledger["county_code"] == b]["discrepancy_id"].iloc[0])
    ws.cell(row=5, column=header["责任人"], value="李四")                # a good row
    wb.save(book)
    assert cli("ledger", "import", str(book), "--out", str(out)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith(f"anju: error: {book.name}，工作表「台账」，第 ") for line in err)
    assert "第 2 行，列「整改进展」" in err[0] and "第 3 行，列「整改时限」" in err[1]
    assert "第 4 行，列「问题编号」" in err[2] and f"不属于本表的县 {a}" in err[2]
    assert people_store.ledger_events(store)["field"].tolist() == ["responsible_person"]
    store.engine.dispose()


def _stored_and_exported(exports, tmp_path):
    """A run of D1 in a SQLite store in OUT and the 台账 exported: (OUT, store, one workbook)."""
    out = tmp_path / "out"
    out.mkdir()
    store = Store(default_url(out))
    run_date(exports, store, D1, people=False)
    assert cli("ledger", "export", "--out", str(out), "--as-of", D1.isoformat()) == 0
    return out, store, next((out / "ledger" / D1.isoformat()).glob("*/台账_*.xlsx"))


def test_an_import_waits_for_the_lock_a_run_or_another_import_holds(exports, tmp_path):
    from connectors.store import RunLocked

    out, store, book = _stored_and_exported(exports, tmp_path)
    with store.run_lock(ledger_cmd.LEDGER_LOCK):  # what a run holds (issue 18's flow line)
        with pytest.raises(RunLocked, match="另一个台账导入或对账运行正在使用此存储"):
            cli("ledger", "import", str(book), "--out", str(out))
    assert cli("ledger", "import", str(book), "--out", str(out)) == 0  # released: it goes through
    store.engine.dispose()


def test_export_without_a_stored_run_is_one_line(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="存储中没有 2020-07-31 的对账结果"):
        cli("ledger", "export", "--out", str(tmp_path / "out"), "--as-of", "2020-07-31")


def test_a_resaved_workbook_is_read_by_its_headers_not_positions(exports, tmp_path):
    """Another sheet first, a column moved, a merged range, a date and a code typed loosely."""
    out, store, book = _stored_and_exported(exports, tmp_path)
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    ws.protection.sheet = False
    header = {c.value: c.column for c in ws[1]}
    ids = [ws.cell(row=r, column=header["问题编号"]).value for r in (2, 3, 4)]
    unit = header["整改责任单位"]
    ws.insert_cols(1)  # 责任人 moved to the front
    src = header["责任人"] + 1
    for r in range(1, ws.max_row + 1):
        ws.cell(row=r, column=1, value=ws.cell(row=r, column=src).value)
    ws.delete_cols(src)
    ws.cell(row=2, column=unit + 1, value="城关镇人民政府")
    ws.merge_cells(start_row=2, start_column=unit + 1, end_row=3, end_column=unit + 1)  # one value for two rows
    ws.cell(row=4, column=header["整改时限"], value="2020年9月30日")  # a date typed as text (after the move)
    ws.cell(row=4, column=1, value=13800138000)                         # a number where text goes
    wb.create_sheet("填表说明", 0).append(["请在黄色列填写"])               # another sheet first
    wb.save(book)
    assert cli("ledger", "import", str(book), "--out", str(out)) == 0
    ev = people_store.ledger_events(store).set_index(["discrepancy_id", "field"])["new_value"]
    assert ev[(ids[0], "responsible_unit")] == ev[(ids[1], "responsible_unit")] == "城关镇人民政府"
    assert ev[(ids[2], "deadline")] == "2020-09-30" and ev[(ids[2], "responsible_person")] == "13800138000"
    assert len(ev) == 4
    store.engine.dispose()
