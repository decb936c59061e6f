"""The ``anju`` command line.

    anju reconcile --ps-households FILE [--ps-members FILE] --ha-archive FILE --as-of DATE --out DIR [--store URL]
    anju generate --households N --seed S --out DIR [--format native|parquet]
    anju feedback build|push …, anju progress …, anju serve --settings FILE (``anju CMD --help``)

Exit codes: 0 done; 2 a problem the user can fix (bad input, unreachable store or
database, unusable output folder, held lock, failed gate), told in one line
``anju: error: ...``; 70 a bug in Anju, told in one line ``anju: internal error: ...``
with the traceback in a log file (``OUT/.logs/`` or the temp folder).
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from schemas import defaults

EXIT_INPUT = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h)
ROOT = Path(__file__).resolve().parents[1]
OURS = tuple(str(ROOT / pkg) + "/" for pkg in ("flows", "connectors", "reconcile", "schemas"))
# OS errors of the machine or the user's paths, not of Anju's logic
USER_ERRNOS = {"EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EISDIR", "EEXIST", "ENOENT",
               "ENAMETOOLONG", "EMFILE", "ENFILE", "ENOMEM", "EIO"}


def _spawned_child() -> bool:
    """True while a ``multiprocessing`` spawn child re-imports this, its parent's main module
    (it copies the parent's ``sys.argv``, but not its process name)."""
    mp = sys.modules.get("multiprocessing.process")
    return mp is not None and mp.current_process().name != "MainProcess"


if _spawned_child():  # the report worker of a run: it goes when the run goes, even under kill -9
    from flows.runtime import die_with_parent

    die_with_parent()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; expected YYYY-MM-DD") from None


def _counties(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in codes if not (len(c) == 6 and c.isdigit())]
    if bad or not codes:
        raise argparse.ArgumentTypeError(f"{', '.join(bad) or text!r}: expected 6-digit county codes, "
                                         "comma-separated")
    return codes


def _month(text: str) -> str:
    try:
        date.fromisoformat(f"{text}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month; expected YYYY-MM") from None
    return text


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return n


def _url(text: str) -> str:
    from flows.artifacts import check_report_url

    try:
        return check_report_url(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def existing_folder(text: str, missing: str = "输出文件夹不存在") -> str:
    """An argparse type: an existing output folder, made absolute (``anju ledger``, ``anju history``)."""
    p = Path(text).expanduser().resolve()
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{p}：{missing}")
    return str(p)


def input_folder(text: str) -> str:
    """An argparse type: an existing folder of export files, made absolute, or a database
    table as is (``anju country``)."""
    from connectors.sql import is_db_location

    return text if is_db_location(text) else existing_folder(text, "输入文件夹不存在 / no such folder of export files")


def _existing(text: str) -> str:
    """A file path made absolute (scripts call us from anywhere), or a database source as is."""
    from connectors.drops import is_drop_location
    from connectors.sql import is_db_location

    if is_drop_location(text):  # drop:<folder>?pattern=...: the folder made absolute, a URL as is
        folder, sep, pattern = text[len("drop:"):].rpartition("?pattern=")
        return text if "://" in folder or not sep else f"drop:{Path(folder).expanduser().resolve()}?pattern={pattern}"
    return text if is_db_location(text) else str(Path(text).expanduser().resolve())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anju", description="Reconcile the housing archive (HA) with the poverty "
                                "alleviation system (PS), household by household.")
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="json: one JSON object per log line, for a log collector (also ANJU_LOG_FORMAT=json)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reconcile", help="reconcile one PS export with one HA export and publish the outputs")
    r.add_argument("--ps-households", required=True, type=_existing,
                   help="PS households export: CSV, XLSX, XLS, Parquet, or URL#table (see README)")
    r.add_argument("--ps-members", type=_existing, help="PS household members export (optional)")
    r.add_argument("--ha-archive", required=True, type=_existing, help="HA archive records export")
    r.add_argument("--as-of", required=True, type=_date, help="reconciliation date, YYYY-MM-DD")
    r.add_argument("--out", required=True, type=_existing, help="output folder; the run is published in OUT/AS_OF")
    r.add_argument("--store", help="SQLAlchemy URL of the SQL store (default: a SQLite file in OUT)")
    r.add_argument("--deadline", type=_date, default=defaults.DEADLINE,
                   help=f"renovation deadline ({defaults.DEADLINE})")
    r.add_argument("--mapping", type=_existing, help="YAML of extra header aliases for a province's layout")
    r.add_argument("--dask-address", help="run the county partitions on a Dask cluster: a scheduler address "
                   "(tcp://HOST:8786), or 'local' for a 2-worker cluster in this process; default: threads")
    r.add_argument("--partition-records", type=_positive, default=defaults.PARTITION_RECORDS,
                   help="residual records per county partition of the scored matching (200000)")
    r.add_argument("--accept-change", type=_counties, action="extend", metavar="COUNTY,...",
                   help="counties whose change since the last published run is known: the volume guard "
                   "does not hold the run for them")
    r.add_argument("--fresh-inputs", action="store_true", help="a re-run of a published date takes the drop "
                   "folder's newest export again instead of the kept copy its published run read")
    r.add_argument("--allow-stale", action="store_true", help="publish even when a drop export is older "
                   "than drops.max_age_days")
    r.add_argument("--counties", type=_counties, help="re-reconcile only these 6-digit county codes, e.g. "
                   "522425,522426; every other county's outputs and ledger entries stay as they were")
    r.add_argument("--report-url", type=_url, metavar="URL",
                   help="where OUT is served on the web (https://HOST/anju): the Prefect artifacts then link to "
                   "URL/AS_OF/report.html; default: file:// links, which open only on this machine")

    f = sub.add_parser("feedback", help="correction packages for both agencies, and write-back")
    fsub = f.add_subparsers(dest="feedback_command", required=True)
    fb = fsub.add_parser("build", help="build packages and cleaned extracts from a published run")
    fb.add_argument("--out", required=True, type=_existing, help="the output folder of `anju reconcile`")
    fb.add_argument("--as-of", required=True, type=_date, help="the run's date, YYYY-MM-DD (OUT/AS_OF)")
    fb.add_argument("--mapping", type=_existing, help="the province's header mapping YAML given to `anju "
                    "reconcile`: the packages use the agency's own headers")
    fp = fsub.add_parser("push", help="upsert an agency's corrections into a staging table of its database")
    fp.add_argument("--agency", required=True, choices=["ps", "ha"],
                    help="whose corrections: ps (poverty alleviation system) or ha (housing archive)")
    fp.add_argument("--url", required=True, help="SQLAlchemy URL; ${VAR} is read from the environment")
    fp.add_argument("--table", required=True, help="staging table, [schema.]name; created if absent")
    fp.add_argument("--out", required=True, type=_existing, help="the output folder of `anju feedback build`")
    fp.add_argument("--as-of", required=True, type=_date, help="the run's date, YYYY-MM-DD")

    pr = sub.add_parser("progress", help="the monthly renovation progress report (due before the 6th)")
    pr.add_argument("--month", type=_month, help="YYYY-MM (default: the previous month)")
    pr.add_argument("--out", required=True, type=_existing, help="the output folder of `anju reconcile`")
    pr.add_argument("--deadline", type=_date, default=defaults.DEADLINE,
                    help=f"renovation deadline, YYYY-MM-DD ({defaults.DEADLINE})")
    pr.add_argument("--unit", default=defaults.REPORTING_UNIT, help="the reporting unit printed on the sheet")
    pr.add_argument("--store", help="SQLAlchemy URL of the store: read the month end from its history "
                    "(default: the published run folder)")

    sv = sub.add_parser("serve", help="run the nightly and monthly flows on their schedules (Asia/Shanghai)")
    sv.add_argument("--settings", required=True, type=_existing, help="settings YAML (see anju.example.yaml)")

    g = sub.add_parser("generate", help="write synthetic exports of both agencies with ground truth")
    g.add_argument("--households", type=_positive, required=True, help="PS households of the synthetic world")
    g.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same files (0)")
    g.add_argument("--out", required=True, type=_existing, help="folder for the exports and truth/")
    g.add_argument("--format", choices=["native", "parquet", "counties"], default="native",
                   help="native: the agencies' own CSV/XLSX layouts; parquet: the same tables as Parquet; counties: "
                   "a folder per source of one Parquet file per county, for `anju country` (native)")
    g.add_argument("--as-of", type=_date, default=defaults.SAMPLE_AS_OF,
                   help="the date the world is as of, YYYY-MM-DD (2020-07-31)")
    g.add_argument("--months", metavar="FIRST:LAST",
                   help="monthly snapshots of one evolving world, e.g. 2020-07:2021-01: OUT/YYYY-MM/ each with "
                        "truth/alerts.csv; the first month must end on or after 2020-07-30 (--as-of is then ignored)")
    from flows.country_cmd import add_country_parser
    from flows.history_cmd import add_history_parser
    from flows.ledger_cmd import add_ledger_parser
    add_ledger_parser(sub)
    add_history_parser(sub)
    add_country_parser(sub)
    return p


def _summary(result: dict) -> str:
    """What this run did, counted in its scope: a ``--counties`` run counts its counties'
    matches and discrepancies, and the ledger's changes since the last run of that scope
    (an earlier run for the same date, else the latest earlier date), not everything the
    published tables hold. ``result``: what the flow returned (run.json's keys and ``published``)."""
    from schemas.run_record import RunRecord

    run = RunRecord.from_dict(result)
    scoped = run.scope != "all"
    lines = [f"Anju reconcile as of {run.as_of} (run {run.run_id}"
             + (f", counties {run.scope})" if scoped else ")")]
    for name, i in run.inputs.items():
        out_of_scope = f" {i.get('rows_out_of_scope', 0):>7,} outside scope" if scoped else ""
        lines.append(f"  read {name:<14} {i['rows_read']:>9,} rows  {i['rows_used']:>9,} used  "
                     f"{i['rows_quarantined']:>7,} quarantined{out_of_scope}   {Path(i['location']).name}")
    by_method = ", ".join(f"{k} {v:,}" for k, v in run.matches_by_method.items())
    lines.append(f"  matches {sum(run.matches_by_method.values()):>10,}   ({by_method})")
    lines.append(f"  discrepancies {sum(run.discrepancies_by_rule.values()):>4,}")
    for rule, n in sorted(run.discrepancies_by_rule.items(), key=lambda kv: -kv[1]):
        lines.append(f"      {rule:<22}{n:>8,}")
    changes = ", ".join(f"{k} {v:,}" for k, v in run.ledger_changes.items())
    lines.append(f"  ledger ({run.scope}): {changes}  (changes since the last run)")
    households = (f"unified households {run.tables['unified']:,}; other priority groups "
                  f"{run.tables['other_groups']:,}")
    if scoped:  # the published tables hold every county: this run's and the kept ones
        lines.append(f"  published for {run.as_of}, all counties: matches {run.tables['matches']:,}, "
                     f"discrepancies {run.tables['discrepancies']:,}, {households}")
    else:
        lines.append(f"  {households}")
    if run.gate:
        lines.append(f"  gate     {run.gate['evaluated']} expectations passed; Data Docs "
                     f"{run.published}/{run.gate['data_docs']}")
    from flows.drops_flow import summary_lines

    lines += [f"  exports  {line}" for line in summary_lines(result)]
    lines.append(f"  outputs  {run.published}/")
    lines.append(f"  store    {run.parameters['store']}")
    return "\n".join(lines)


def cmd_reconcile(args: argparse.Namespace, tty: bool = False) -> int:
    from connectors.publish import prepare_out
    from connectors.store import Store, default_url
    from flows.console import stage_progress
    from flows.reconcile_flow import reconcile
    from flows.runners import task_runner
    from flows.runtime import start_local_server

    # What the user can get wrong about the output folder and the store fails here, in a
    # second, not after the Prefect server has started (the flow checks again).
    prepare_out(Path(args.out))
    store = Store(args.store or default_url(Path(args.out)))
    try:
        store.migrate()
    finally:
        store.engine.dispose()
    start_local_server()
    flow = reconcile.with_options(task_runner=task_runner(args.dask_address)) if args.dask_address else reconcile
    with stage_progress(tty, f"reconcile {args.as_of}"):
        run = flow(ps_households=args.ps_households, ps_members=args.ps_members, ha_archive=args.ha_archive,
                        as_of=args.as_of, out=args.out, store=args.store, deadline=args.deadline,
                        mapping=args.mapping, counties=args.counties, partition_records=args.partition_records,
                        report_url=args.report_url, accept_change=args.accept_change,
                        drops={**({"reuse_inputs": False} if args.fresh_inputs else {}),
                               **({"hold_stale": False} if args.allow_stale else {})} or None)
    print(_summary(run))
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from flows import feedback_cmd

    if args.feedback_command == "build":
        summary = feedback_cmd.build(args.out, args.as_of, args.mapping)
        for agency in ("ps", "ha"):
            s = summary[agency]
            print(f"  {agency}: {s['corrections']:,} corrections ({s['with_proposal']:,} with a proposed value), "
                  f"{s['records']:,} cleaned records, {s['files']} files")
        print(f"  packages {summary['published']}/")
        return 0
    n = feedback_cmd.push_package(args.out, args.as_of, args.agency, args.url, args.table)
    print(f"  pushed {n:,} corrections to {args.table} (upserted by discrepancy id, one transaction)")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import time

    if args.months:
        from flows.generate_cmd import generate_months, month_ends
        folders = generate_months(args.households, args.seed, month_ends(args.months), args.format, Path(args.out))
        for month, folder in folders.items():
            print(f"  {month}  {folder}")
        return 0

    from anju_synth import build_world, write_world

    t = time.perf_counter()
    world = build_world(args.households, args.seed, as_of=args.as_of)
    paths = write_world(world, Path(args.out), args.seed, args.format)
    print(f"generated {len(world.ps):,} PS households, {len(world.members):,} members, {len(world.ha):,} HA "
          f"records in {time.perf_counter() - t:.1f} s")
    for name, path in paths.items():
        print(f"  {name:<14} {path}")
    print(f"  truth          {Path(args.out) / 'truth'}")
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from flows.progress_flow import month_end, monthly_progress, previous_month, source_run
    from flows.reconcile_flow import today_in_china
    from flows.runtime import start_local_server

    month = args.month or previous_month(today_in_china())
    if not args.store:
        source_run(Path(args.out), month_end(month))  # no run to report on: say so before starting Prefect
    start_local_server()
    r = monthly_progress(out=args.out, month=month, deadline=args.deadline, unit=args.unit, store=args.store)
    print(f"  progress {r['month']} (as of {r['as_of']}, from the run of {r['source_run']}): "
          f"{r['tasks']:,} tasks, completion rate {r['completion_rate']:.1%}")
    print(f"  outputs  {r['published']}/")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.runtime import start_local_server
    from flows.serve import load_settings, serve_forever

    load_settings(args.settings)  # a missing or broken settings file: one line, before Prefect starts
    start_local_server()
    serve_forever(args.settings)
    return 0


def _raised_by_anju(e: BaseException) -> bool:
    """True when the innermost frame of ``e`` is Anju's own code: a ``raise ValueError`` of
    ours explains bad input; one from inside pandas is a bug of ours."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(OURS)


def _user_error(e: BaseException) -> bool:
    import errno

    from flows.runtime import known_errors

    if isinstance(e, known_errors()):
        return True
    if isinstance(e, ValueError):
        return _raised_by_anju(e)
    return isinstance(e, OSError) and e.filename is not None and errno.errorcode.get(e.errno) in USER_ERRNOS


def _message(e: BaseException) -> str:
    from reconcile import mask_full_ids

    if isinstance(e, OSError) and e.filename is not None:
        text = f"{e.filename}: {e.strerror or e}"
    else:
        text = str(e) or type(e).__name__
    return mask_full_ids(text)


def _internal_error(e: BaseException, args: argparse.Namespace | None) -> int:
    """One line on the console; the traceback (IDs masked) in a log file for whoever fixes it."""
    import os
    import tempfile
    import traceback
    from datetime import datetime

    from reconcile import mask_full_ids

    text = mask_full_ids("".join(traceback.format_exception(e)))
    name = f"anju-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}.log"
    out = getattr(args, "out", None)
    folders = ([Path(out) / ".logs"] if out else []) + [Path(tempfile.gettempdir()) / "anju-logs"]
    path = None
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
            path = folder / name
            break
        except OSError:
            continue
    where = f"traceback in {path}" if path else "traceback could not be written"
    print(f"anju: internal error: {type(e).__name__}: {_message(e)} ({where})", file=sys.stderr)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    import os

    from flows.console import quiet_console_on_tty

    argv = sys.argv[1:] if argv is None else argv
    flag = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--log-format"), None)
    if "--log-format=json" in argv or flag == "json" or os.environ.get("ANJU_LOG_FORMAT", "").lower() == "json":
        os.environ["ANJU_LOG_FORMAT"] = "json"  # machine-read logs: no spinner, JSON lines
        tty = False
    else:
        tty = quiet_console_on_tty()
    import flows.runtime  # noqa: F401  (offline defaults before Prefect loads)

    args = build_parser().parse_args(argv)
    try:
        import prefect  # noqa: F401  (sets up its logging handlers)

        flows.runtime.quiet_known_errors()
        flows.runtime.protect_logs()
        if args.command != "serve":  # a one-shot command's tracebacks go to its log file only
            flows.runtime.console_without_tracebacks()
        if args.command == "reconcile":
            return cmd_reconcile(args, tty)
        if args.command == "feedback":
            return cmd_feedback(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "progress":
            return cmd_progress(args)
        if args.command == "history":
            from flows.history_cmd import cmd_history
            return cmd_history(args)
        if args.command == "ledger":
            from flows.ledger_cmd import cmd_ledger
            return cmd_ledger(args)
        if args.command == "country":
            from flows.country_cmd import cmd_country
            return cmd_country(args)
        return cmd_generate(args)
    except Exception as e:  # noqa: BLE001  (the last word to the user: one line either way)
        if _user_error(e):
            print(f"anju: error: {_message(e)}", file=sys.stderr)
            return EXIT_INPUT
        return _internal_error(e, args)


if __name__ == "__main__":
    sys.exit(main())
