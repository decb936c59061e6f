"""The ``feedback`` flow: build both agencies' correction packages from a published run
and, optionally, push them into the agencies' staging tables."""
from __future__ import annotations

from datetime import date
from typing import Literal

import flows.runtime  # noqa: F401
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from flows import feedback_cmd
from flows.runtime import retry_if_transient


class PushTarget(BaseModel):
    """Where one agency takes its corrections: a staging table in its database."""
    agency: Literal["ps", "ha"]
    url: str = Field(description="SQLAlchemy URL; ${VAR} is read from the environment")
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$",
                       description="[schema.]table, created if absent")


# Only transient errors retry (flows.runtime.is_transient): a missing run or a refused
# write fails at once with its one-line message.
@task(name="build-packages", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5,
      retry_condition_fn=retry_if_transient, timeout_seconds=3600)
def build_packages(out: str, as_of: date, mapping: str | None) -> dict:
    return feedback_cmd.build(out, as_of, mapping)


@task(name="push-package", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[5, 30, 120],
      retry_condition_fn=retry_if_transient, timeout_seconds=1800)
def push_package(out: str, as_of: date, target: PushTarget) -> int:
    n = feedback_cmd.push_package(out, as_of, target.agency, target.url, target.table)
    get_run_logger().info("push %s: %d corrections upserted into %s", target.agency, n, target.table)
    return n


@flow(name="feedback", validate_parameters=True)
def feedback(out: str, as_of: date, mapping: str | None = None, push: list[PushTarget] | None = None) -> dict:
    """Packages for both agencies from ``OUT/<as_of>``, published as ``OUT/feedback/<as_of>``;
    then each ``push`` target gets its agency's corrections (one transaction per target)."""
    summary = build_packages(out, as_of, mapping)
    summary["pushed"] = {f"{t.agency}:{t.table}": push_package(out, as_of, t) for t in push or []}
    return summary
