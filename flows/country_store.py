"""The SQL store of a country run: loaded from the staged tables, whole counties at a time.

The published tables are staged by county (``TABLE/province=PP/county=CCCCCC/``), and a
partition's ledger, with the run that changed each item (the store keeps it; the
published ledger does not), beside them in the run's exchange folder. The store is
loaded from those files in shares of whole counties of about ``STORE_SHARE_ROWS`` rows
(``connectors.store.Store.save_shares``): the flow's process holds one table of one
share, never the country; every share is compared with what the store holds of its counties and written
in bulk, in one transaction, so the run is stored whole or not at all. The run's row is
written ``stored`` and marked ``published`` once its folder is swapped in, as ``anju
reconcile`` does.
"""
from __future__ import annotations

from pathlib import Path

from connectors import datasets
from connectors.history import STORED
from connectors.store import Store
from reconcile.spread_plan import order_table
from schemas.defaults import STORE_SHARE_ROWS

STORE_FOLDER = "store"  # under the run's exchange folder: the ledger as the store keeps it


def stored_names(tables: tuple[str, ...]) -> list[str]:
    return [n for n in tables if n in STORED] + ["ledger"]


def batches(county_rows: dict[str, int], limit: int = STORE_SHARE_ROWS) -> list[list[str]]:
    """Counties in code order, packed into batches of at most ``limit`` rows (a county
    larger than that alone).

    >>> batches({"520101": 6, "520102": 5, "520103": 1, "none": 2}, limit=8)
    [['520101'], ['520102', '520103'], ['none']]
    """
    out: list[list[str]] = []
    size = 0
    for county in sorted(county_rows, key=lambda c: (c == datasets.NO_COUNTY, c)):
        n = county_rows[county]
        if not out or size + n > limit or (county == datasets.NO_COUNTY) != (out[-1][0] == datasets.NO_COUNTY):
            out.append([])
            size = 0
        out[-1].append(county)
        size += n
    return out


def shares(staged: Path, ledger: Path, names: list[str], groups: list[list[str]]):
    """Each batch of counties' rows of each stored table, as the single process orders
    them, one table at a time."""
    for counties in groups:
        codes = [None if c == datasets.NO_COUNTY else c for c in counties]
        for name in names:
            frame = datasets.read_shares(datasets.share_files(ledger if name == "ledger" else staged, name,
                                                              counties=counties))
            yield codes, name, order_table(name, frame) if len(frame) else frame


def load_store(store: Store, record: dict, staged: Path, ledger: Path, names: list[str],
               county_rows: dict[str, int]) -> int:
    """The run into the store, a share at a time; the number of shares."""
    groups = batches(county_rows, STORE_SHARE_ROWS)
    row = {"run_id": record["run_id"], "as_of": record["as_of"], "scope": "all", "status": "stored",
           "started_at": record["started_at"], "finished_at": record["finished_at"],
           "parameters": record["parameters"], "inputs": record["inputs"], "counts": record["tables"],
           "timings": record["seconds"]}
    store.save_shares(row, names, shares(staged, ledger, names, groups))
    return len(groups)
