"""The ``rerun`` flow: a data officer re-reconciles some counties after a correction.

Started by hand (Prefect UI, ``prefect deployment run 'rerun/manual' --param
counties='["522425"]' --param as_of=2020-07-31``, or ``anju reconcile --counties``).
The served deployment carries the sources, output folder and store from the settings
file, so the officer gives only counties and a date. Every other county's outputs and
ledger entries stay as the last run for that date left them.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated

import flows.runtime  # noqa: F401
from prefect import flow
from pydantic import Field

from flows.reconcile_flow import reconcile
from schemas.defaults import DEADLINE, PARTITION_RECORDS

CountyCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="6-digit county code, e.g. 522425")]


@flow(name="rerun", validate_parameters=True)
def rerun(counties: Annotated[list[CountyCode], Field(min_length=1)], as_of: date, ps_households: str,
          ha_archive: str, out: str, ps_members: str | None = None, store: str | None = None,
          deadline: date = DEADLINE, mapping: str | None = None,
          partition_records: int = PARTITION_RECORDS,
          accept_change: list[CountyCode] | None = None, drops: dict | None = None, guards: dict | None = None,
          report_url: str | None = None, monitoring: dict | None = None,
          retention: dict | None = None) -> dict:
    """Re-reconcile ``counties`` as of ``as_of`` and publish; the nightly run's outputs for
    every other county are kept."""
    return reconcile(ps_households=ps_households, ha_archive=ha_archive, out=out, as_of=as_of,
                     ps_members=ps_members, store=store, deadline=deadline, mapping=mapping,
                     counties=sorted(set(counties)), partition_records=partition_records,
                     accept_change=accept_change, drops=drops, guards=guards, report_url=report_url,
                     monitoring=monitoring, retention=retention)
