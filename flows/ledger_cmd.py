"""``anju ledger export`` and ``anju ledger import``: the 台账 to the counties and back (issue 18).

    anju ledger export --out OUT --as-of D [--counties 522425,...] [--store URL]
    anju ledger import FILE... --out OUT [--store URL]

Export writes ``OUT/ledger/<D>/<county>/台账_<county>.xlsx`` per county: its open,
reopened, overdue and waived items, plus those resolved since that county's last export
(each county's export dates are kept in ``OUT/ledger/exports.json``). Import reads filled-in workbooks, refuses bad
rows one line each (file, sheet, row, column), records the rest in the store as audit
events and people's state (``connectors.ledger_people_store``), and holds the store's
``ledger`` lock meanwhile: one import at a time, never during a run (the run takes it too).
Every later run honours what was imported (``reconcile.finish_match``/``track_ledger``).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

import reconcile
from connectors import ledger_book
from connectors import ledger_people_store as people_store
from connectors.sources import sha256_file
from connectors.store import RunLocked, Store, default_url
from flows.cli import existing_folder
from schemas.ledger_people import Reject, header_of

LEDGER_LOCK = "ledger"  # the store-wide lock an import and every run hold (Store.run_lock's key)
EXPORTS = "exports.json"  # OUT/ledger/exports.json: each county's export dates


class LedgerInputError(ValueError):
    """A problem the user can fix (no run stored, a bad argument): one line, exit 2."""


# --- the command line ----------------------------------------------------------------------------
def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"「{text}」不是日期，请写成 YYYY-MM-DD（如 2020-08-31）") from None


def _counties(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes or any(not (len(c) == 6 and c.isdigit()) for c in codes):
        raise argparse.ArgumentTypeError(f"「{text}」：请写 6 位县代码，以逗号分隔（如 522425,522426）")
    return codes


def _workbook(text: str) -> str:
    p = Path(text).expanduser().resolve()
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{p}：没有这个文件")
    return str(p)


def add_ledger_parser(subparsers) -> argparse.ArgumentParser:
    """``anju ledger export|import`` on the ``anju`` sub-command parser."""
    led = subparsers.add_parser("ledger", help="台账：导出给各县填写（责任、时限、核实结论），再导入 / "
                                "the ledger workbooks to the counties and back")
    sub = led.add_subparsers(dest="ledger_command", required=True)
    ex = sub.add_parser("export", help="导出各县台账工作簿 OUT/ledger/<日期>/<县>/台账_<县>.xlsx")
    ex.add_argument("--out", required=True, type=existing_folder, help="`anju reconcile` 的输出文件夹 / output folder")
    ex.add_argument("--as-of", required=True, type=_date, help="台账日期（某次对账的日期），YYYY-MM-DD")
    ex.add_argument("--counties", type=_counties, help="只导出这些县，6 位县代码以逗号分隔；默认全部")
    ex.add_argument("--store", help="SQL 存储的 SQLAlchemy URL（默认：OUT 中的 SQLite 文件）")
    im = sub.add_parser("import", help="导入各县填好的台账工作簿；有问题的行逐行列出，其余照常导入")
    im.add_argument("files", nargs="+", type=_workbook, metavar="FILE", help="填好的 台账_<县>.xlsx（可多个）")
    im.add_argument("--out", required=True, type=existing_folder, help="`anju reconcile` 的输出文件夹 / output folder")
    im.add_argument("--store", help="SQL 存储的 SQLAlchemy URL（默认：OUT 中的 SQLite 文件）")
    return led


def cmd_ledger(args: argparse.Namespace) -> int:
    """Run ``anju ledger export|import``: 0 done; 2 when rows were refused (the rest imported)."""
    if args.ledger_command == "export":
        r = export_ledger(args.out, args.as_of, args.counties, args.store)
        for county, n in r["counties"].items():
            print(f"  台账 {county}: {n:,} 项")
        print(f"  outputs  {r['folder']}/")
        return 0
    r = import_ledger(args.files, args.out, args.store)
    for line in r["rejected"]:
        print(f"anju: error: {line}", file=sys.stderr)
    for f in r["files"]:
        print(f"  {f['file']}: 读取 {f['rows']:,} 行，导入 {f['accepted']:,} 行，拒绝 {f['rejected']:,} 行，"
              f"变更 {f['events']:,} 项")
    return 2 if r["rejected"] else 0


# --- export ----------------------------------------------------------------------------------------
def _store(out, url: str | None) -> Store:
    store = Store(url or default_url(Path(out)))
    store.migrate()
    return store


def _exports(folder: Path) -> dict[str, list[str]]:
    """Each county's export dates: a re-export of a date lists what was resolved since the one before."""
    try:
        return json.loads((folder / EXPORTS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def export_ledger(out, as_of: str, counties: list[str] | None = None, store_url: str | None = None) -> dict:
    """Write each county's 台账 workbook for ``as_of``; returns the folder and rows per county."""
    store = _store(out, store_url)
    try:
        if as_of not in store.snapshot_dates():
            raise LedgerInputError(f"存储中没有 {as_of} 的对账结果（台账）；请先运行 anju reconcile --as-of {as_of}")
        ledger = store.ledger_as_of(as_of, counties)
        disc = store.table_as_of("discrepancies", as_of, counties)
        state = people_store.people_state(store, counties)
    finally:
        store.engine.dispose()
    ledger = reconcile.apply_people(ledger, state, as_of)  # what staff wrote since the run, too
    root = Path(out) / "ledger"
    done = _exports(root)
    wanted = counties or sorted(ledger["county_code"].dropna().unique().tolist())
    folder = root / as_of
    written = {}
    for county in wanted:
        since = max([d for d in done.get(county, []) if d < as_of], default=None)  # the last export before
        rows = reconcile.book_rows(ledger[(ledger["county_code"] == county).fillna(False).to_numpy()], disc,
                                   resolved_since=since)
        ledger_book.write_ledger_book(rows, folder / county / ledger_book.book_name(county))
        written[county] = len(rows)
    done.update({c: sorted({*done.get(c, []), as_of}) for c in wanted})
    root.mkdir(parents=True, exist_ok=True)
    (root / EXPORTS).write_text(json.dumps(dict(sorted(done.items())), ensure_ascii=False, indent=1) + "\n",
                                encoding="utf-8")
    return {"folder": str(folder), "counties": written}


# --- import ----------------------------------------------------------------------------------------
def import_ledger(files: list, out, store_url: str | None = None, imported_at: str | None = None) -> dict:
    """Import filled-in 台账 workbooks under the store's ``ledger`` lock.

    Per file: the refused rows listed (one line each), the others recorded as events and
    state in one transaction. The same file twice records nothing the second time.
    """
    store = _store(out, store_url)
    stamp = imported_at or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    try:
        try:
            lock = store.run_lock(LEDGER_LOCK)
            lock.__enter__()
        except RunLocked:
            raise RunLocked("另一个台账导入或对账运行正在使用此存储，请稍后再试 / another ledger import or run "
                            "holds this store") from None
        try:
            return _import_locked(store, [Path(f) for f in files], stamp)
        finally:
            lock.__exit__(None, None, None)
    finally:
        store.engine.dispose()


def _import_locked(store: Store, files: list[Path], stamp: str) -> dict:
    dates = store.snapshot_dates()
    if not dates:
        raise LedgerInputError("存储中还没有台账；请先运行 anju reconcile")
    latest = dates[-1]
    ledger = store.ledger_as_of(latest)
    values = reconcile.values_fingerprint(store.table_as_of("discrepancies", latest))
    state = people_store.people_state(store)
    report = {"files": [], "rejected": []}
    for path in files:
        rows, refused = ledger_book.read_ledger_book(path)
        read = len(rows) + len({r.row for r in refused if r.row is not None})  # rows read = used + refused
        county = ledger_book.county_of_book(path, rows)
        if county is None and len(rows):
            refused = [*refused, Reject(path.name, str(rows["sheet"].iloc[0]), None, header_of("county_code"),
                                                  "无法判断本表属于哪个县：请使用导出的文件名 台账_<县代码>.xlsx")]
            rows = rows.iloc[0:0]
        accepted, bad = reconcile.validate_import(rows, ledger, county or "")
        refused = sorted([*refused, *bad], key=lambda r: r.row or 0)  # in the sheet's order, as a person reads
        events = reconcile.people_events(accepted, state, path.name, sha256_file(path), stamp)
        changed = reconcile.people_state_after(state, accepted, events, values)
        n = people_store.record_import(store, events, changed)
        if len(changed):
            state = pd.concat([state[~state["discrepancy_id"].isin(changed["discrepancy_id"])], changed],
                              ignore_index=True)
        report["files"].append({"file": path.name, "county": county, "rows": read, "accepted": len(accepted),
                                "rejected": len({(r.file, r.row) for r in refused}), "events": n})
        report["rejected"] += [str(r) for r in refused]
    return report
