"""Atomic publishing: readers see the old run or the new one, never a mix."""
import os

import pandas as pd
import pytest

from connectors.publish import Staging


def _publish(out, run_id, value):
    with Staging(out, "2020-07-31", run_id) as st:
        st.write_table("t", pd.DataFrame({"v": [value]}))
        return st.commit()


def test_rerun_replaces_the_date_whole(tmp_path):
    _publish(tmp_path, "r1", 1)
    link = _publish(tmp_path, "r2", 2)
    assert pd.read_parquet(link / "t.parquet")["v"].tolist() == [2]
    assert os.path.islink(link)


def test_failure_before_commit_leaves_last_good_outputs(tmp_path):
    _publish(tmp_path, "r1", 1)
    with pytest.raises(RuntimeError):
        with Staging(tmp_path, "2020-07-31", "r2") as st:
            st.write_table("t", pd.DataFrame({"v": [2]}))
            raise RuntimeError("killed")
    assert pd.read_parquet(tmp_path / "2020-07-31" / "t.parquet")["v"].tolist() == [1]
    assert not list((tmp_path / ".runs" / "2020-07-31").glob("*.partial"))


def test_partial_folder_of_a_killed_run_is_swept_by_the_next(tmp_path):
    _publish(tmp_path, "r1", 1)
    (tmp_path / ".runs" / "2020-07-31" / "r2.partial").mkdir()
    _publish(tmp_path, "r3", 3)
    assert not (tmp_path / ".runs" / "2020-07-31" / "r2.partial").exists()


def test_same_frame_gives_same_bytes(tmp_path):
    from connectors.publish import write_parquet

    f = pd.DataFrame({"a": pd.Series(["x", None], dtype="string"), "b": [1.5, 2.0]})
    write_parquet(f, tmp_path / "1.parquet")
    write_parquet(f, tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


@pytest.mark.parametrize("where", ["under_a_file", "a_file", "proc"])
def test_an_unusable_output_folder_is_one_message_naming_it(tmp_path, where):
    from connectors.publish import OutputError, prepare_out

    (tmp_path / "file").write_text("x")
    out = {"under_a_file": tmp_path / "file" / "out", "a_file": tmp_path / "file",
           "proc": "/proc/anju-out"}[where]  # tests run as root: /proc refuses what chmod cannot
    with pytest.raises(OutputError, match="cannot write the output folder") as e:
        prepare_out(out)
    assert str(out) in str(e.value)
    if where != "proc":
        assert f"{tmp_path / 'file'} is a file, not a folder" in str(e.value)


def test_a_writable_output_folder_is_made_and_left_clean(tmp_path):
    from connectors.publish import prepare_out

    prepare_out(tmp_path / "a" / "b")
    assert list((tmp_path / "a" / "b").iterdir()) == []


def _nightly(out, dates):
    for i, d in enumerate(dates):
        with Staging(out, d, f"r{i}") as st:
            st.write_table("t", pd.DataFrame({"v": [i]}))
            st.commit()


def test_retention_keeps_the_last_days_and_every_month_end(tmp_path):
    from datetime import date, timedelta

    from connectors.retention import kept_runs, plan, prune

    dates = [(date(2021, 1, 20) + timedelta(days=i)).isoformat() for i in range(60)]  # to 2021-03-20
    _nightly(tmp_path, dates)
    (tmp_path / ".failed" / dates[0] / "x").mkdir(parents=True)  # a failed gate's Data Docs
    removed = prune(tmp_path, live=dates[-1], days=14)
    kept = sorted(p.name for p in tmp_path.iterdir() if p.name[:1].isdigit())
    assert kept == ["2021-01-31", "2021-02-28"] + dates[-14:]
    assert sorted(p.name for p in (tmp_path / ".runs").iterdir()) == kept
    assert dates[0] in removed and not (tmp_path / ".failed" / dates[0]).exists()
    assert pd.read_parquet(tmp_path / "2021-01-31" / "t.parquet")["v"].tolist() == [11]  # still whole
    assert [r["as_of"] for r in kept_runs(tmp_path, days=14)] == kept
    assert all(r["kept"] for r in kept_runs(tmp_path, days=14))
    assert [p.as_of for p in plan(tmp_path, days=14, month_ends=1) if not p.kept] == ["2021-01-31"]


def test_retention_never_removes_the_live_date_or_one_a_run_holds(tmp_path):
    from contextlib import contextmanager

    from connectors.retention import prune
    from connectors.store import RunLocked

    _nightly(tmp_path, ["2021-01-05", "2021-01-06", "2021-03-10"])

    @contextmanager
    def lock(as_of):
        if as_of == "2021-01-06":
            raise RunLocked("busy")
        yield

    assert prune(tmp_path, live="2021-01-05", lock=lock, days=14) == []
    assert (tmp_path / "2021-01-05").exists() and (tmp_path / "2021-01-06").exists()
    assert prune(tmp_path, live="2021-03-10", lock=lambda d: contextmanager(lambda: (yield))(), days=14) \
        == ["2021-01-05", "2021-01-06"]
