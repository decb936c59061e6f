"""``anju country``: a national run over folders of exports, every stage partitioned (issue 21).

    anju country --ps-households DIR --ps-members DIR --ha-archive DIR --as-of DATE --out OUT
                 [--partition-records 200000] [--dask-address tcp://HOST:8786|local]

Each folder holds Parquet files, one per county or province (``anju generate --format
counties`` writes such folders); a source may also be a database table or view
(``URL#schema.table``), read in ranges of its key on the workers
(``connectors.sql_ranges``). Without ``--dask-address`` the partitions run on a thread
pool in this process; with it, on the workers of that Dask cluster (``local``: two
process workers started here), which need Anju installed, and the input folders,
``--mapping`` and ``OUT`` on a disk they share, at the same paths.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_country_parser(subparsers) -> argparse.ArgumentParser:
    from flows.cli import _date, _existing, _positive, input_folder
    from schemas import defaults

    c = subparsers.add_parser("country", help="a national run over folders of exports (a Parquet file per county "
                                               "or province), every stage partitioned, on threads or a Dask cluster")
    c.add_argument("--ps-households", required=True, type=input_folder,
                   help="folder of PS household files, or a table (URL#table)")
    c.add_argument("--ps-members", type=input_folder, help="folder of PS member files, or a table (optional)")
    c.add_argument("--ha-archive", required=True, type=input_folder,
                   help="folder of HA archive files, or a table (URL#table)")
    c.add_argument("--as-of", required=True, type=_date, help="reconciliation date, YYYY-MM-DD")
    c.add_argument("--out", required=True, type=_existing, help="output folder; the run is published in OUT/AS_OF")
    c.add_argument("--deadline", type=_date, default=defaults.DEADLINE,
                   help=f"renovation deadline ({defaults.DEADLINE})")
    c.add_argument("--mapping", type=_existing, help="YAML of extra header aliases for a province's layout")
    c.add_argument("--partition-records", type=_positive, default=defaults.PARTITION_RECORDS,
                   help="households and archive records per partition (200000)")
    c.add_argument("--store", help="SQLAlchemy URL of a SQL store to load the run into, a share of counties at a "
                   "time (default: none; a national run publishes its files)")
    c.add_argument("--dask-address", help="a Dask scheduler (tcp://HOST:8786), or 'local' for 2 process workers "
                   "started here; default: threads in this process")
    return c


def cmd_country(args: argparse.Namespace) -> int:
    from connectors.publish import prepare_out
    from flows.country_flow import country
    from flows.runtime import start_local_server

    prepare_out(Path(args.out))
    start_local_server()
    run = country(ps_households=args.ps_households, ps_members=args.ps_members, ha_archive=args.ha_archive,
                  as_of=args.as_of, out=args.out, deadline=args.deadline, mapping=args.mapping,
                  partition_records=args.partition_records, dask_address=args.dask_address, store_url=args.store)
    print(summary(run))
    return 0


def summary(run: dict) -> str:
    lines = [f"Anju country as of {run['as_of']} (run {run['run_id']}, {run['parameters']['partitions']} partitions "
             f"on {run['parameters']['task_runner']})"]
    for name, i in run["inputs"].items():
        parts = f"{i['files']} files" if "files" in i else f"{i['ranges']} ranges of a table"
        lines.append(f"  read {name:<14} {i['rows_read']:>10,} rows  {i['rows_used']:>10,} used  "
                     f"{i['rows_quarantined']:>8,} quarantined   {parts}")
    lines.append("  matches: " + ", ".join(f"{k} {v:,}" for k, v in run["matches_by_method"].items()))
    lines.append(f"  discrepancies: {sum(run['discrepancies_by_rule'].values()):,}; provinces: "
                 + ", ".join(run["provinces"]))
    lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in run["seconds"].items()))
    lines.append(f"  published: {run['published']}")
    return "\n".join(lines)
