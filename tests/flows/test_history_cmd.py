"""``anju history``: what is kept, why, and pruning by hand; the ``retention:`` settings."""
import argparse
import uuid

import pandas as pd
import pytest

from connectors.errors import SourceError
from connectors.publish import Staging
from connectors.settings_file import retention_settings
from connectors.store import Store, default_url
from flows.history_cmd import add_history_parser, cmd_history, history, lines, retention_of


def _nightly(out, dates):
    store = Store(default_url(out))
    for i, d in enumerate(dates):
        with Staging(out, d, f"r{i}") as st:
            st.write_table("t", pd.DataFrame({"v": [i]}))
            run_id = f"r{i}-{uuid.uuid4().hex[:6]}"
            store.save_run({"run_id": run_id, "as_of": d, "scope": "all", "status": "stored", "started_at": d,
                            "finished_at": None, "parameters": {}, "inputs": {}, "counts": {}, "timings": {}},
                           {"unified": pd.DataFrame({"unified_id": ["U1"], "county_code": ["522425"],
                                                     "household_size": [i % 2 + 1]})})
            st.commit()
    store.engine.dispose()


def _parse(argv):
    p = argparse.ArgumentParser()
    add_history_parser(p.add_subparsers(dest="command"))
    return p.parse_args(["history", *argv])


DATES = ["2021-01-05", "2021-01-31", "2021-02-10", "2021-02-27", "2021-02-28", "2021-03-01"]


def test_history_lists_each_date_with_why_it_is_kept_and_the_store_tables(tmp_path):
    _nightly(tmp_path, DATES)
    report = history(tmp_path, days=14, month_ends=None)
    why = {r["as_of"]: (r["kept"], r["reason"]) for r in report["runs"]}
    assert why == {"2021-01-05": (False, "removed at next prune"), "2021-01-31": (True, "month end"),
                   "2021-02-10": (False, "removed at next prune"), "2021-02-27": (True, "recent"),
                   "2021-02-28": (True, "recent"), "2021-03-01": (True, "newest")}
    unified = next(t for t in report["tables"] if t["table"] == "unified")
    assert (unified["snapshots"], unified["first"], unified["last"]) == (6, DATES[0], DATES[-1])
    assert unified["versions"] == 6 and unified["current_rows"] == 1  # the row changed every night
    assert report["store_bytes"] > 0 and report["removed"] == []
    text = "\n".join(lines(report))
    assert "2021-01-31  保留（月末）" in text and "2021-01-05  下次清理时删除" in text
    assert all((tmp_path / d).exists() for d in DATES)  # showing removes nothing


def test_prune_by_hand_removes_what_is_not_kept_but_never_a_date_a_run_holds(tmp_path, capsys):
    _nightly(tmp_path, DATES)
    store = Store(default_url(tmp_path))
    with store.run_lock("2021-01-05"):  # a run for that date is going on
        assert cmd_history(_parse(["--out", str(tmp_path), "--prune"])) == 0
    assert "已删除 1 个日期：2021-02-10" in capsys.readouterr().out
    assert (tmp_path / "2021-01-05").exists() and not (tmp_path / "2021-02-10").exists()
    assert not (tmp_path / ".runs" / "2021-02-10").exists()
    # the store still answers for a removed date
    assert store.table_as_of("unified", "2021-02-10")["household_size"].tolist() == [1]
    store.engine.dispose()
    assert cmd_history(_parse(["--out", str(tmp_path), "--prune", "--days", "0", "--month-ends", "0"])) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name[:1].isdigit()) == ["2021-03-01"]  # the newest stays


def test_retention_comes_from_the_options_else_the_settings_file_else_the_defaults(tmp_path):
    settings = tmp_path / "anju.yaml"
    settings.write_text("out: x\nretention:\n  days: 3\n  month_ends: 2\n", encoding="utf-8")
    assert retention_of(_parse(["--out", str(tmp_path)])) == {"days": 14, "month_ends": None}
    assert retention_of(_parse(["--out", str(tmp_path), "--settings", str(settings)])) == {"days": 3, "month_ends": 2}
    assert retention_of(_parse(["--out", str(tmp_path), "--settings", str(settings), "--days", "7",
                                "--month-ends", "all"])) == {"days": 7, "month_ends": None}


@pytest.mark.parametrize("section, problem", [
    ("[1, 2]", "retention: not a mapping"),
    ("{keep: 3}", "retention: unknown key keep"),
    ("{days: -1}", "retention.days: -1 is not a whole number"),
    ("{days: all}", "retention.days: 'all' is not a whole number"),
    ("{month_ends: 1.5}", "retention.month_ends: 1.5 is not a whole number"),
])
def test_a_bad_retention_section_is_one_line_naming_the_file(section, problem):
    import yaml

    with pytest.raises(SourceError) as e:
        retention_settings({"retention": yaml.safe_load(section)}, "anju.yaml")
    assert str(e.value).startswith(f"anju.yaml: {problem}") and "\n" not in str(e.value)


def test_month_ends_all_or_nothing_keeps_every_month_end():
    assert retention_settings({"retention": {"month_ends": "all"}}) == {"days": 14, "month_ends": None}
    assert retention_settings({"retention": {"days": 0, "month_ends": 0}}) == {"days": 0, "month_ends": 0}
    assert retention_settings({}) == {"days": 14, "month_ends": None}
