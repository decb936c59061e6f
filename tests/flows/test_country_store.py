"""``anju country --store``: the run loaded into a SQL store a share of counties at a time
holds, date after date, what ``anju reconcile`` stores for the same exports, a county
that disappears included; the run is stored whole or not at all (issue 21)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.flows.test_country import AS_OF, NEXT, counties, run_country, run_single  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


def later_world(world: Path, into: Path) -> str:
    """The next month's exports: an archive county's first rows gone, one county gone whole."""
    gone = sorted(p.name for p in (world / "ps_households").glob("*.parquet"))[-1]
    for source in ("ps_households", "ps_members", "ha_archive"):
        (into / source).mkdir(parents=True)
        for f in sorted((world / source).glob("*.parquet")):
            if f.name != gone:
                frame = pd.read_parquet(f)
                (frame.iloc[30:] if source == "ha_archive" else frame).to_parquet(into / source / f.name, index=False)
    return gone.removesuffix(".parquet")


def stored(url: str, as_of) -> dict[str, pd.DataFrame]:
    from connectors.store import Store
    from flows.country_flow import STORED_NAMES

    store = Store(url)
    # the run that changed a ledger item is each run's own id
    return {n: store.table_as_of(n, as_of.isoformat()).drop(columns=["changed_by_run"], errors="ignore")
            for n in STORED_NAMES}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_store_holds_what_a_single_process_stores_date_after_date(harness, counties, tmp_path, kind,
                                                                      fresh_database):
    from connectors.store import Store, default_url

    url = f"sqlite:///{tmp_path / 'country.sqlite'}" if kind == "sqlite" else fresh_database("postgres")
    later = tmp_path / "later"
    gone = later_world(counties, later)
    single = tmp_path / "single"
    single.mkdir()
    (tmp_path / "country").mkdir()
    run_single(counties, single)
    from flows.reconcile_flow import reconcile

    reconcile(ps_households=str(later / "ps_households"), ps_members=str(later / "ps_members"),
              ha_archive=str(later / "ha_archive"), as_of=NEXT, out=str(single), accept_change=[gone])
    first = run_country(counties, tmp_path / "country", store_url=url)
    assert first["store_shares"] >= 1 and "store" in first["seconds"]
    run_country(later, tmp_path / "country", NEXT, store_url=url)
    for as_of in (AS_OF, NEXT):
        want, got = stored(default_url(single), as_of), stored(url, as_of)
        for name in want:
            pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=f"{name} {as_of}")
    assert not (got["matches"]["county_code"] == gone).any() and (stored(url, AS_OF)["matches"]["county_code"]
                                                                  == gone).any()
    runs = Store(url).run_history()
    assert runs["status"].tolist() == ["published", "published"]


def test_a_store_that_fails_mid_load_keeps_nothing_of_the_run(harness, counties, tmp_path, monkeypatch):
    from connectors import store as store_module
    from connectors.store import Store

    url = f"sqlite:///{tmp_path / 'country.sqlite'}"
    (tmp_path / "country").mkdir()
    run_country(counties, tmp_path / "country", store_url=url)
    before = stored(url, AS_OF)
    calls = []
    real = store_module.Store.write_snapshot

    def fails_on_the_second_share(self, conn, name, *a, **k):
        calls.append(name)
        if len(calls) > len(before):
            raise OSError("the disk is full")
        return real(self, conn, name, *a, **k)

    monkeypatch.setattr(store_module.Store, "write_snapshot", fails_on_the_second_share)
    monkeypatch.setattr("flows.country_store.STORE_SHARE_ROWS", 1)  # a county a share
    later = tmp_path / "later"
    later_world(counties, later)  # a run of the date again that changes what is stored
    with pytest.raises(Exception, match="the disk is full"):
        run_country(later, tmp_path / "country", store_url=url)
    assert len(calls) == len(before) + 1  # a whole share was written before the next failed
    after = stored(url, AS_OF)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name])
    assert Store(url).run_history()["status"].tolist() == ["published"]
    shutil.rmtree(tmp_path / "country", ignore_errors=True)
