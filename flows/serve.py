"""``anju serve``: the nightly reconciliation and the monthly progress report on their schedules.

One settings file says where the exports are, where outputs and the store go, and when
to run. Times are cron expressions in Asia/Shanghai (``serve(cron=...)`` alone would mean
UTC). Teams running a Prefect server with workers use ``prefect.yaml`` instead.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from schemas.defaults import DEADLINE

DEFAULTS = {
    "timezone": "Asia/Shanghai",
    "schedules": {"reconcile": "0 2 * * *", "monthly_progress": "0 1 1 * *"},
    "deadline": DEADLINE.isoformat(),
    "store": None,
    "mapping": None,
    "dask_address": None,
    "partition_records": None,
    "drops": None,    # the `drops:` section (flows/drops_flow.DropPolicy)
    "guards": None,   # the `guards:` section (schemas/guards.GuardThresholds)
    "monitoring": None,  # the `monitoring:` section: alert thresholds (schemas/alerts.yaml)
    "retention": None,   # the `retention:` section: published folders kept (schemas/defaults.py)
    "report_url": None,  # where OUT is served on the web: the artifacts link there, not to file://
}


def load_settings(path: str | Path) -> dict:
    from connectors.errors import SourceError
    from connectors.settings_file import read_settings_file

    raw = read_settings_file(path)
    settings = {**DEFAULTS, **raw, "schedules": {**DEFAULTS["schedules"], **(raw.get("schedules") or {})}}
    missing = [k for k in ("out",) if not settings.get(k)] + [
        f"sources.{k}" for k in ("ps_households", "ha_archive") if not (settings.get("sources") or {}).get(k)]
    if missing:
        raise ValueError(f"{path}: settings missing {', '.join(missing)}")
    base = Path(path).resolve().parent
    resolve = (lambda p: p if (p is None or "://" in str(p)) else str((base / p).resolve()))

    def resolve_source(p):
        if p is None or not str(p).startswith("drop:"):
            return resolve(p)
        folder, sep, pattern = str(p)[len("drop:"):].rpartition("?pattern=")
        return p if "://" in folder or not sep else f"drop:{resolve(folder)}?pattern={pattern}"

    settings["out"] = resolve(settings["out"])
    settings["sources"] = {k: resolve_source(v) for k, v in settings["sources"].items()}
    settings["mapping"] = resolve(settings["mapping"])
    from connectors.settings_file import retention_settings
    retention_settings(raw, path)  # a bad `retention:` section is one line now, not after a night's run
    if settings["report_url"]:
        from flows.artifacts import check_report_url

        try:
            settings["report_url"] = check_report_url(str(settings["report_url"]))
        except ValueError as e:
            raise SourceError(str(path), str(e)) from None
    return settings


def deployments(settings: dict) -> list:
    import flows.runtime  # noqa: F401
    from prefect.schedules import Cron

    from flows.feedback_flow import feedback
    from flows.ledger_flow import ledger_export, ledger_import
    from flows.progress_flow import monthly_progress
    from flows.reconcile_flow import reconcile
    from flows.rerun_flow import rerun
    from flows.runners import task_runner

    tz, cron = settings["timezone"], settings["schedules"]
    src = settings["sources"]
    deadline = date.fromisoformat(str(settings["deadline"]))
    common = {"ps_households": src["ps_households"], "ps_members": src.get("ps_members"),
              "ha_archive": src["ha_archive"], "out": settings["out"], "store": settings["store"],
              "deadline": deadline, "mapping": settings["mapping"], "drops": settings["drops"],
              "guards": settings["guards"], "monitoring": settings["monitoring"],
              "retention": settings["retention"]}
    if settings["report_url"]:
        common["report_url"] = settings["report_url"]
    if settings["partition_records"]:
        common["partition_records"] = int(settings["partition_records"])
    if settings["dask_address"]:
        reconcile = reconcile.with_options(task_runner=task_runner(settings["dask_address"]))
    nightly = reconcile.to_deployment(
        name="nightly", schedules=[Cron(cron["reconcile"], timezone=tz)], parameters=common,
        description="Reconcile today's exports (as_of = today in Asia/Shanghai) and publish.")
    monthly = monthly_progress.to_deployment(
        name="monthly", schedules=[Cron(cron["monthly_progress"], timezone=tz)],
        parameters={"out": settings["out"], "deadline": deadline},
        description="The previous month's progress report, ready before the 6th.")
    manual = rerun.to_deployment(
        name="manual", parameters=common,
        description="Re-reconcile some counties after a correction: give counties and as_of.")
    packages = feedback.to_deployment(
        name="manual", parameters={"out": settings["out"], "mapping": settings["mapping"]},
        description="Build (and optionally push) both agencies' correction packages for an as_of.")
    ledger_books = ledger_export.to_deployment(
        name="manual", parameters={"out": settings["out"], "store": settings["store"]},
        description="台账: each county's workbook for an as_of (give as_of, optionally counties).")
    ledger_back = ledger_import.to_deployment(
        name="manual", parameters={"out": settings["out"], "store": settings["store"]},
        description="台账: import the counties' filled-in workbooks (give files).")
    return [nightly, monthly, manual, packages, ledger_books, ledger_back]


def serve_forever(settings_path: str) -> None:
    from prefect import serve

    serve(*deployments(load_settings(settings_path)))
