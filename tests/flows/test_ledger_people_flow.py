"""Issue 18 through the real flow on the bundled sample (SQLite store): run 2020-07-31,
``anju ledger export``, fill one county's workbook with openpyxl as its officer would,
``anju ledger import``, run 2020-08-31 on the same inputs, and read what was honoured
from the published tables and the store's audit table."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow
D1, D2 = date(2020, 7, 31), date(2020, 8, 31)


@pytest.fixture
def asks_more(monkeypatch):
    """The sample matches every scored pair with confidence, so it has no REVIEW_MATCH item;
    with the acceptance threshold above 1 every scored pair goes to a person (thresholds are
    data, matching.yaml; the flow's match tasks run in threads and see this)."""
    import reconcile.match_scored as scored

    settings = scored.load_matching_settings()
    monkeypatch.setattr(scored, "load_matching_settings", lambda: {**settings, "accept": 1.01})


def run(out: Path, as_of: date) -> dict:
    from flows.reconcile_flow import reconcile

    return reconcile(ps_households=str(SAMPLE / "ps_households.csv"), ps_members=str(SAMPLE / "ps_members.csv"),
                     ha_archive=str(SAMPLE / "ha_archive.xlsx"), as_of=as_of, out=str(out))


def anju(*argv: str) -> int:
    from flows.cli import build_parser
    from flows.ledger_cmd import cmd_ledger

    return cmd_ledger(build_parser().parse_args(list(argv)))


def published(out: Path, as_of: date, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / as_of.isoformat() / f"{name}.parquet")


def fill(book: Path, answers: dict[str, dict[str, object]]) -> None:
    """A county officer: open the workbook, type into the people's columns by header, save."""
    from schemas.ledger_people import header_of

    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    header = {c.value: c.column for c in ws[1]}
    seen = set()
    for row in ws.iter_rows(min_row=2):
        key = row[header[header_of("discrepancy_id")] - 1].value
        for field, value in answers.get(key, {}).items():
            ws.cell(row=row[0].row, column=header[header_of(field)], value=value)
            seen.add(key)
    wb.save(book)
    assert seen == set(answers), "every item answered is a row of the exported workbook"


def pair_in(frame: pd.DataFrame, item) -> pd.Series:
    return (frame["household_no"] == item["household_no"]) & (frame["archive_no"] == item["archive_no"])


def test_people_in_the_loop_are_honoured_by_the_next_run(harness, asks_more, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    run(out, D1)
    ledger = published(out, D1, "ledger")
    review = ledger[ledger["rule"] == "REVIEW_MATCH"].sort_values("discrepancy_id")
    assert len(review), "the sample, asked more, has REVIEW_MATCH items"
    county = review["county_code"].value_counts().index[0]  # the county with the most pairs to answer
    review = review[review["county_code"] == county]
    assert len(review) >= 2
    others = ledger[(ledger["county_code"] == county) & (ledger["rule"] != "REVIEW_MATCH")
                    & ledger["household_no"].notna()].sort_values("discrepancy_id")
    late, waive = others.iloc[0], others.iloc[1]
    no, yes = review.iloc[0], review.iloc[1]
    assert {late["status"], waive["status"]} == {"new"}

    assert anju("ledger", "export", "--out", str(out), "--as-of", D1.isoformat(), "--counties", county) == 0
    book = out / "ledger" / D1.isoformat() / county / f"台账_{county}.xlsx"
    fill(book, {late["discrepancy_id"]: {"responsible_person": "王五", "deadline": date(2020, 7, 1)},
                waive["discrepancy_id"]: {"verdict": "不属实", "note": "已入户核实，系系统录入错误"},
                no["discrepancy_id"]: {"same_household": "否"},
                yes["discrepancy_id"]: {"same_household": "是"}})
    assert anju("ledger", "import", str(book), "--out", str(out)) == 0

    run(out, D2)
    led = published(out, D2, "ledger").set_index("discrepancy_id")
    assert bool(led.loc[late["discrepancy_id"], "overdue"]) is True  # 2020-07-01 passed, still open
    assert led.loc[late["discrepancy_id"], "status"] in ("open", "reopened")
    assert led.loc[late["discrepancy_id"], "responsible_person"] == "王五"
    assert led.loc[late["discrepancy_id"], "deadline"] == "2020-07-01"
    assert led.loc[waive["discrepancy_id"], "status"] == "waived"
    assert not bool(led.loc[waive["discrepancy_id"], "overdue"])
    disc = published(out, D2, "discrepancies")
    asked = disc[disc["rule"] == "REVIEW_MATCH"]
    assert not pair_in(asked, no).any() and not pair_in(asked, yes).any()  # neither asked again
    assert pair_in(published(out, D1, "discrepancies").query("rule == 'REVIEW_MATCH'"), no).any()  # it was
    matches = published(out, D2, "matches")
    assert not pair_in(matches, no).any()  # 否: never matched
    clerical = matches[pair_in(matches, yes)]
    assert clerical["method"].tolist() == ["clerical"] and clerical["score"].tolist() == [1.0]
    assert not pair_in(published(out, D1, "matches"), yes).any()  # not matched before the answer

    engine = sa.create_engine(f"sqlite:///{out / 'anju.sqlite'}")
    try:
        events = pd.read_sql_table("ledger_events", engine)
    finally:
        engine.dispose()
    assert set(zip(events["discrepancy_id"], events["field"])) == {
        (late["discrepancy_id"], "responsible_person"), (late["discrepancy_id"], "deadline"),
        (waive["discrepancy_id"], "verdict"), (waive["discrepancy_id"], "note"),
        (no["discrepancy_id"], "same_household"), (yes["discrepancy_id"], "same_household")}
    assert len(events) == 6 and (events["source_file"] == book.name).all()
