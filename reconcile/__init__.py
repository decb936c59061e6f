"""The pure reconciliation core: normalize, match, classify, unify. No I/O, no Prefect, no clock.

This package is the core's public surface: the flow, the tests and the benchmarks call
the stages below and nothing else. The modules behind it are its internals.

Example, the stages one after the other (what :func:`run` does; the flow runs the same
functions as Prefect tasks, the scored matching once per partition)::

    import reconcile
    settings = reconcile.Settings(as_of=date(2020, 7, 31))
    canon = reconcile.normalize(raw, specs, settings)
    ids = reconcile.match_by_id(canon)
    parts = [reconcile.candidates(p) for p in reconcile.partitions(ids.residual)]
    model = reconcile.fit_model(ids.residual, parts)
    matched = reconcile.finish_match(canon, ids, [reconcile.score(c, model) for c in parts], model)
    disc = reconcile.find_discrepancies(canon, matched, settings)
    unified, others = reconcile.unify_households(canon, matched.matches, disc, settings)
"""
from reconcile.compare import LEVELS
from reconcile.gate import accounting_frame, gate_frames, gate_key_probe, ledger_frame, repeated_across
from reconcile.feedback import SOURCE as FEEDBACK_SOURCE
from reconcile.feedback import cleaned_records, corrections
from reconcile.ledger import update_ledger
from reconcile.ledger_people import (apply_people, book_rows, clerical_decisions, county_rectification, people_events,
                                     people_state_after, validate_import, values_fingerprint)
from reconcile.monitor import MONITORED_COLUMNS, alerts, household_history
from reconcile.masking import mask_full_ids, masked_rows
from reconcile.match import MatchResult
from reconcile.pipeline import (Canonical, IdMatches, LedgerUpdate, Settings, Tables, candidates, count_open,
                                find_discrepancies, finish_match, fit_model, match, match_by_id, normalize,
                                partitions, published_tables, run, run_counts, score, track_ledger,
                                unify_households, unify_matched)
from reconcile.progress import monthly_progress
from reconcile.report import (alert_kinds_table, alert_sheet_rows, alerts_by_county, analyst_view,
                              changes_since_last_run, chart_frames, county_counts, ledger_changes,
                              rectification_by_county, report_grid, rule_changes, summary, waived_items,
                              with_people_columns)
from reconcile.scope import ORDER, merge_scoped, restrict

__all__ = [
    # stages
    "normalize", "match_by_id", "partitions", "candidates", "fit_model", "score", "finish_match", "match",
    "find_discrepancies", "track_ledger", "unify_households", "unify_matched", "count_open", "published_tables",
    "run_counts", "run",
    # their inputs and outputs
    "Settings", "Canonical", "IdMatches", "MatchResult", "LedgerUpdate", "Tables", "LEVELS",
    # the ledger of any item table (discrepancies, alerts): new/open/resolved/reopened/waived
    "update_ledger",
    # people in the loop of the 台账 (issue 18): the workbook's rows, an import checked and
    # recorded as events, what later runs honour, the rectification rate per county
    "book_rows", "validate_import", "people_events", "people_state_after", "apply_people", "values_fingerprint",
    "clerical_decisions", "county_rectification",
    # monitoring (issue 19): the alerts of a run and the households' history they compare with
    "alerts", "household_history", "MONITORED_COLUMNS",
    # scoped re-runs
    "restrict", "merge_scoped", "ORDER",
    # report tables
    "monthly_progress", "analyst_view", "summary", "chart_frames", "report_grid", "changes_since_last_run",
    "county_counts", "ledger_changes", "rule_changes",
    # ... with the alerts (issue 19) and the people's columns, waived items, rectification (issue 18)
    "alert_kinds_table", "alert_sheet_rows", "alerts_by_county", "rectification_by_county", "waived_items",
    "with_people_columns",
    # what the publishing gate checks; IDs masked where people read (messages, logs)
    "gate_frames", "mask_full_ids", "masked_rows",
    # ... and across the partitions of a national run: rows read against rows accounted for
    # over the whole run, and the keys the suites want unique, met in buckets of their hash
    "accounting_frame", "ledger_frame", "gate_key_probe", "repeated_across",
    # correction packages for the agencies
    "FEEDBACK_SOURCE", "cleaned_records", "corrections",
]
