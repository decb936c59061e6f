"""``anju history``: what is kept of the published runs and of the store, and pruning by hand (issue 23).

    anju history --out OUT [--store URL] [--settings FILE] [--days N] [--month-ends N|all] [--prune]

Lists each published date under OUT (its run folders: kept, and why, or removed at the
next prune), and per table of the store its snapshot dates, row versions and the store's
size. ``--prune`` removes the dates not kept now, as the nightly run does after it
publishes: never the newest date, and never a date a run holds (it takes that date's run
lock; a held one is left for later). The store keeps every date's tables as history: a
removed folder stays readable with ``Store.table_as_of``. Retention comes from the
options, else the settings file's ``retention:`` section, else ``schemas.defaults``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from connectors import retention
from connectors.settings_file import read_settings_file, retention_settings
from connectors.store import Store, default_url
from flows.cli import existing_folder

REASONS = {"live": "正在发布", "newest": "最新", "recent": "近期", "month end": "月末"}


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"「{text}」：请写 0 或正整数")
    return int(text)


def _month_ends(text: str) -> int | None:
    return None if text.strip().lower() == "all" else _count(text)


def add_history_parser(subparsers) -> argparse.ArgumentParser:
    h = subparsers.add_parser("history", help="保留了哪些发布结果和历史（每日文件夹、数据库各表的快照日期与大小）；"
                                              "--prune 手动清理不再保留的日期")
    h.add_argument("--out", required=True, type=existing_folder, help="`anju reconcile` 的输出文件夹")
    h.add_argument("--store", help="数据库的 SQLAlchemy URL（默认：OUT 中的 SQLite 文件）")
    h.add_argument("--settings", help="设置文件（见 anju.example.yaml）：读取其中的 retention: 一节")
    h.add_argument("--days", type=_count, help="保留最新发布日期前多少天内的每日文件夹（默认 14，或设置文件）")
    h.add_argument("--month-ends", type=_month_ends, default=argparse.SUPPRESS, metavar="N|all",
                   help="保留多少个月末的文件夹：all 为全部（默认），N 为最近 N 个")
    h.add_argument("--prune", action="store_true", help="删除不再保留的日期（从不删除最新日期和正在运行的日期）")
    return h


def retention_of(args: argparse.Namespace) -> dict:
    """days and month_ends: the options, else the settings file's section, else the defaults."""
    raw = read_settings_file(args.settings) if getattr(args, "settings", None) else {}
    kept = retention_settings(raw, args.settings or "settings")
    if getattr(args, "days", None) is not None:
        kept["days"] = args.days
    if hasattr(args, "month_ends"):
        kept["month_ends"] = args.month_ends
    return kept


def history(out, store_url: str | None = None, *, days: int, month_ends: int | None, prune: bool = False) -> dict:
    """The published dates (``retention.kept_runs``), the dates removed when ``prune``, and
    the store's tables (``Store.kept_history``) and size."""
    store = Store(store_url or default_url(Path(out)))
    try:
        removed = retention.prune(out, None, store.run_lock, days=days, month_ends=month_ends) if prune else []
        return {"runs": retention.kept_runs(out, days=days, month_ends=month_ends), "removed": removed,
                "tables": store.kept_history(), "store_bytes": store.size_bytes(), "days": days,
                "month_ends": month_ends}
    finally:
        store.engine.dispose()


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 2**20:,.1f} MB"


def lines(report: dict) -> list[str]:
    ends = "全部月末" if report["month_ends"] is None else f"最近 {report['month_ends']} 个月末"
    out = [f"保留规则：最新发布日期前 {report['days']} 天内的每日结果，以及{ends}"]
    if report["removed"]:
        out.append(f"已删除 {len(report['removed'])} 个日期：{', '.join(report['removed'])}")
    out.append(f"发布结果（{len(report['runs'])} 个日期）：")
    for r in report["runs"]:
        why = f"保留（{REASONS.get(r['reason'], r['reason'])}）" if r["kept"] else "下次清理时删除"
        out.append(f"  {r['as_of']}  {why:<14} {_mb(r['bytes']):>10}  {r['run_id'] or ''}")
    out.append(f"数据库（历史按变化保存，{_mb(report['store_bytes'])}）：")
    out.append(f"  {'表':<20}{'快照数':>6}  {'最早':<10}  {'最新':<10}  {'行版本':>10}  {'当前行':>10}")
    for t in report["tables"]:
        out.append(f"  {t['table']:<20}{t['snapshots']:>8}  {t['first'] or '—':<10}  {t['last'] or '—':<10}  "
                   f"{t['versions']:>13,}  {t['current_rows']:>13,}")
    return out


def cmd_history(args: argparse.Namespace) -> int:
    kept = retention_of(args)
    report = history(args.out, args.store, days=kept["days"], month_ends=kept["month_ends"], prune=args.prune)
    print("\n".join(lines(report)))
    return 0
