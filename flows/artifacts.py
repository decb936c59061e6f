"""Prefect artifacts of a run: a markdown summary and links to the published outputs.

The summary holds counts only (rules, counties, ledger changes): no ID number, no name.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from reconcile.report import RULE_NAMES_ZH

STATUSES = ["new", "resolved", "reopened", "open"]


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def by_rule(disc: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Per rule: open discrepancies now, and what changed in the ledger since the last run."""
    now = disc.groupby("rule").size().rename("discrepancies")
    moves = ledger.pivot_table(index="rule", columns="status", values="discrepancy_id", aggfunc="count",
                               fill_value=0).reindex(columns=STATUSES, fill_value=0)
    t = pd.concat([now, moves], axis=1).fillna(0).astype(int).sort_index()
    t.insert(0, "规则", [RULE_NAMES_ZH.get(r, r) for r in t.index])
    return t.rename_axis("rule").reset_index()


def by_county(disc: pd.DataFrame, unified: pd.DataFrame) -> pd.DataFrame:
    counts = disc.pivot_table(index="county_code", columns="severity", values="discrepancy_id", aggfunc="count",
                              fill_value=0).reindex(columns=["critical", "high", "medium", "low"], fill_value=0)
    households = unified.groupby("county_code").size().rename("households")
    t = pd.concat([households, counts], axis=1).fillna(0).astype(int).sort_index()
    return t.rename_axis("county").reset_index()


def summary_markdown(run: dict, disc: pd.DataFrame, ledger: pd.DataFrame, unified: pd.DataFrame) -> str:
    inputs = pd.DataFrame([{"source": name, "read": i["rows_read"], "used": i["rows_used"],
                            "quarantined": i["rows_quarantined"], "outside scope": i["rows_out_of_scope"]}
                           for name, i in run["inputs"].items()])
    changes = ledger["status"].value_counts().reindex(STATUSES, fill_value=0)
    gate = run.get("gate", {})
    return "\n\n".join([
        f"# Anju reconcile {run['as_of']} ({run['scope']})",
        f"Run `{run['run_id']}`: {run['tables']['matches']:,} matches, {len(disc):,} discrepancies, "
        f"{run['tables']['unified']:,} households in the unified table. Since the last run: "
        + ", ".join(f"{k} {v:,}" for k, v in changes.items()) + ". "
        f"Publishing gate: {gate.get('evaluated', 0)} expectations passed.",
        "## Inputs", _table(inputs),
        "## Discrepancies per rule (ledger changes since the last run)", _table(by_rule(disc, ledger)),
        "## Discrepancies per county", _table(by_county(disc, unified)),
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
