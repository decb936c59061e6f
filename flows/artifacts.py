"""Prefect artifacts of a run: a markdown summary and links to the published outputs.

The summary holds counts only (rules, counties, ledger changes): no ID number, no name.
Its tables are shaped in ``reconcile.report``; this module only renders them. Everything
in it is counted in the run's scope: a ``--counties`` run shows its counties, and the
ledger's changes since the last run of that scope (``reconcile.ledger.changes``).

The links are ``file://`` paths unless ``report_url`` says where the output folder is
served on the web: a browser on the Prefect UI's machine cannot open another machine's
files, so the link then reads ``<report_url>/<as_of>/report.html``.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pandas as pd

from flows.drops_flow import summary_lines
from reconcile import county_counts, ledger_changes, rule_changes
from reconcile import alert_kinds_table, alerts_by_county, rectification_by_county
from schemas.run_record import RunRecord

LOCAL_ONLY = "a file:// link: it opens only on the machine that ran the flow (set report_url to serve OUT on the web)"


def check_report_url(url: str) -> str:
    """``url`` if it can prefix the links (http or https, with a host); else ValueError."""
    parts = urlsplit(url.strip())
    # no user:password@ either: the URL is written to run.json and the store
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc or parts.query \
            or parts.fragment:
        raise ValueError(f"report_url {url!r}: expected an http:// or https:// address of the folder OUT is "
                         "served from, e.g. https://reports.example/anju")
    return url.strip()


def _under(report_url: str, *segments: str) -> str:
    """``report_url`` with path segments appended (each quoted), keeping its own path."""
    parts = urlsplit(check_report_url(report_url))
    path = parts.path.rstrip("/") + "/" + "/".join(quote(s) for s in segments)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def links(run: RunRecord, report_url: str | None) -> dict[str, dict[str, str]]:
    """The link artifacts of a run, by key: ``link``, ``link_text``, ``description``."""
    live = Path(run.published).absolute()
    folder = live.name  # the published folder's name under OUT: the as_of date
    if report_url:
        report, outputs, note = _under(report_url, folder, "report.html"), _under(report_url, folder, ""), ""
    else:
        report, outputs, note = (live / "report.html").as_uri(), live.as_uri(), f"; {LOCAL_ONLY}"
    return {
        "reconcile-report": {"link": report, "link_text": f"report {run.as_of} (report.html)",
                             "description": f"analysts' report{note}"},
        "reconcile-outputs": {"link": outputs, "link_text": f"outputs {run.as_of}",
                              "description": f"published tables, reports, Data Docs (datadocs/index.html){note}"},
    }


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _cell(v) -> str:
    return f"{v:.1%}" if isinstance(v, float) else str(v)


def _md_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Labels for a markdown table: no ``|`` or line break can end a cell, rates as percentages."""
    out = frame.copy()
    for c in out.columns:
        if str(c).endswith("率"):
            out[c] = out[c].map(_cell)
        elif not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype(str).str.replace(r"[|\r\n]", " ", regex=True)
    return out


def people_and_alert_sections(moves: pd.DataFrame, alerts: pd.DataFrame | None,
                              alert_ledger: pd.DataFrame | None, as_of: str) -> list[str]:
    """The 台账's overdue items per county (issue 18) and the alerts by kind and county
    (issue 19), in Chinese with codes as labels: counts only, no ID, no name."""
    out = []
    if "overdue" in moves or "status" in moves and (moves["status"] == "waived").any():
        out += ["## 各县整改情况（逾期、已核销、整改完成率）", _table(_md_safe(rectification_by_county(moves)))]
    if alerts is not None:
        out += ["## 动态监测预警（按类型）", _table(_md_safe(alert_kinds_table(alerts, alert_ledger, as_of)))]
        if len(alerts):
            out += ["## 动态监测预警（按县）", _table(_md_safe(alerts_by_county(alerts)))]
    return out


def summary_markdown(run: RunRecord, disc: pd.DataFrame, moves: pd.DataFrame, unified: pd.DataFrame,
                     alerts: pd.DataFrame | None = None, alert_ledger: pd.DataFrame | None = None) -> str:
    """``disc`` and ``unified``: the run's scope; ``moves``: its ledger changes, one row per
    entry the run changed or kept open, ``status`` = the change (``reconcile.ledger.changes``),
    with the 台账's people's columns and ``overdue`` where it has them; ``alerts`` and
    ``alert_ledger``: the run's monitoring, when it ran."""
    inputs = pd.DataFrame([{"source": name, "read": i["rows_read"], "used": i["rows_used"],
                            "quarantined": i["rows_quarantined"], "outside scope": i["rows_out_of_scope"]}
                           for name, i in run.inputs.items()])
    changes = ledger_changes(moves)
    gate = run.gate or {}
    scoped = run.scope != "all"
    exports = summary_lines(run.as_dict())  # drop exports named late, stale, unchanged or duplicated; the guard
    published = (f" (all counties, as published for {run.as_of}: {run.tables['discrepancies']:,} "
                 "discrepancies)") if scoped else ""
    return "\n\n".join([
        f"# Anju reconcile {run.as_of} ({run.scope})",
        f"Run `{run.run_id}`: {sum(run.matches_by_method.values()):,} matches, {len(disc):,} discrepancies, "
        f"{len(unified):,} households in the unified table{' in scope' if scoped else ''}{published}. "
        "Since the last run: " + ", ".join(f"{k} {v:,}" for k, v in changes.items()) + ". "
        f"Publishing gate: {gate.get('evaluated', 0)} expectations passed.",
        "## Inputs", _table(inputs),
        "## Discrepancies per rule (ledger changes since the last run)", _table(rule_changes(disc, moves)),
        "## Discrepancies per county", _table(county_counts(disc, unified)),
        *people_and_alert_sections(moves, alerts, alert_ledger, run.as_of),
        *(["## Exports and volume guard", "\n".join(f"- {line}" for line in exports)] if exports else []),
    ])


def publish_artifacts(run: RunRecord, disc: pd.DataFrame, moves: pd.DataFrame, unified: pd.DataFrame,
                      report_url: str | None = None, *, alerts: pd.DataFrame | None = None,
                      alert_ledger: pd.DataFrame | None = None) -> None:
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    create_markdown_artifact(key="reconcile-summary",
                             markdown=summary_markdown(run, disc, moves, unified, alerts, alert_ledger),
                             description=f"Anju reconcile {run.as_of}")
    for key, link in links(run, report_url).items():
        create_link_artifact(key=key, **link)
