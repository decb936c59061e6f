"""Prefect artifacts of a run: a markdown summary and links to the published outputs.

The summary holds counts only (rules, counties, ledger changes): no ID number, no name.
Its tables are shaped in ``reconcile.report``; this module only renders them.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from reconcile.report import county_counts, ledger_changes, rule_changes


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def summary_markdown(run: dict, disc: pd.DataFrame, ledger: pd.DataFrame, unified: pd.DataFrame) -> str:
    inputs = pd.DataFrame([{"source": name, "read": i["rows_read"], "used": i["rows_used"],
                            "quarantined": i["rows_quarantined"], "outside scope": i["rows_out_of_scope"]}
                           for name, i in run["inputs"].items()])
    changes = ledger_changes(ledger)
    gate = run.get("gate", {})
    return "\n\n".join([
        f"# Anju reconcile {run['as_of']} ({run['scope']})",
        f"Run `{run['run_id']}`: {run['tables']['matches']:,} matches, {len(disc):,} discrepancies, "
        f"{run['tables']['unified']:,} households in the unified table. Since the last run: "
        + ", ".join(f"{k} {v:,}" for k, v in changes.items()) + ". "
        f"Publishing gate: {gate.get('evaluated', 0)} expectations passed.",
        "## Inputs", _table(inputs),
        "## Discrepancies per rule (ledger changes since the last run)", _table(rule_changes(disc, ledger)),
        "## Discrepancies per county", _table(county_counts(disc, unified)),
    ])


def publish_artifacts(run: dict, disc: pd.DataFrame, ledger: pd.DataFrame, unified: pd.DataFrame) -> None:
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    live = Path(run["published"]).absolute()
    create_markdown_artifact(key="reconcile-summary", markdown=summary_markdown(run, disc, ledger, unified),
                             description=f"Anju reconcile {run['as_of']}")
    create_link_artifact(key="reconcile-report", link=(live / "report.html").as_uri(),
                         link_text=f"report {run['as_of']} (report.html)", description="analysts' report")
    create_link_artifact(key="reconcile-outputs", link=live.as_uri(), link_text=f"outputs {run['as_of']}",
                         description="published tables, reports, Data Docs (datadocs/index.html)")
