"""One public surface, one path: the flow and ``reconcile.run`` call the same stages, and the
flow imports the core only through the ``reconcile`` package."""
import ast
from datetime import date
from pathlib import Path

import pandas as pd

import reconcile
from reconcile.match import match_households, members_or_empty
from schemas.published import LEDGER_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
THROUGH_THE_SURFACE = ["flows/reconcile_flow.py", "flows/artifacts.py", "flows/reporting.py", "flows/rerun_flow.py",
                       "flows/ledger_cmd.py", "flows/ledger_flow.py",
                       "flows/cli.py"]


def core_imports(path: Path) -> list[str]:
    """Modules of the core a file imports (``reconcile`` itself allowed)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found += [n for n in names if n.startswith("reconcile.")]
    return found


def test_the_flow_imports_the_core_only_through_its_package():
    assert {f: core_imports(ROOT / f) for f in THROUGH_THE_SURFACE} == {f: [] for f in THROUGH_THE_SURFACE}


STAGES = ["normalize", "match_by_id", "partitions", "candidates", "fit_model", "score", "finish_match", "match",
          "find_discrepancies", "track_ledger", "unify_households", "unify_matched", "count_open", "published_tables",
          "run_counts", "run"]


def test_every_stage_is_public_and_says_what_it_does():
    assert set(STAGES) <= set(reconcile.__all__)
    assert [n for n in STAGES if not (getattr(reconcile, n).__doc__ or "").strip()] == []


def test_the_staged_match_is_the_one_pass_match(world_raw, specs):
    canon = reconcile.normalize(world_raw, specs, reconcile.Settings(as_of=date(2020, 7, 31)))
    whole = match_households(canon.ps, members_or_empty(canon.members), canon.ha)
    ids = reconcile.match_by_id(canon)
    parts = reconcile.partitions(ids.residual, max_records=1)  # one county per partition
    assert len(parts) >= 2
    cands = [reconcile.candidates(p) for p in parts]
    model = reconcile.fit_model(ids.residual, cands)
    split = reconcile.finish_match(canon, ids, [reconcile.score(c, model) for c in cands], model)
    pd.testing.assert_frame_equal(split.matches, whole.matches)
    pd.testing.assert_frame_equal(reconcile.match(canon).matches, whole.matches)
    assert split.model.as_dict(reconcile.LEVELS) == whole.model.as_dict(reconcile.LEVELS)


def test_run_counts_carry_the_fitted_model_once(world_raw, specs):
    settings = reconcile.Settings(as_of=date(2020, 7, 31))
    canon = reconcile.normalize(world_raw, specs, settings)
    matched = reconcile.match(canon)
    disc = reconcile.find_discrepancies(canon, matched, settings)
    empty = pd.DataFrame(columns=LEDGER_COLUMNS, dtype="string")  # a first run: no earlier ledger
    update = reconcile.track_ledger(disc, empty, empty, "2020-07-31", "run-1")
    counts = reconcile.run_counts(canon, matched, update.discrepancies, update.changes)
    assert counts["ledger_changes"] == {"new": len(disc), "open": 0, "resolved": 0, "reopened": 0, "waived": 0}
    model = counts["match_model"]
    assert set(model) == {"prior", "iterations", "m", "u"} and model["iterations"] > 0
    assert set(model["m"]["name"]) == set(reconcile.LEVELS["name"])


def test_sources_and_rules_side_by_side_give_the_tables_one_at_a_time_gives(world_raw, specs, monkeypatch):
    """Parsing the sources and applying the rules in threads (issue 20) changes nothing:
    the same tables, row for row, as one at a time."""
    from reconcile import discrepancies, pipeline

    settings = pipeline.Settings(as_of=date(2020, 7, 31))
    together = pipeline.run(world_raw, specs, settings)
    monkeypatch.setattr(pipeline, "PARSE_THREADS", 1)
    monkeypatch.setattr(discrepancies, "RULE_THREADS", 1)
    alone = pipeline.run(world_raw, specs, settings)
    for name in ("matches", "discrepancies", "unified", "other_groups", "quarantine"):
        pd.testing.assert_frame_equal(getattr(together, name), getattr(alone, name), check_exact=True)


def test_unify_in_two_steps_is_unify_in_one(world_raw, specs):
    """The flow makes the unified table while the discrepancies are classified (issue 20)
    and counts their open ones after: the same tables as in one step, and until counted
    the counts are unknown, never zero."""
    settings = reconcile.Settings(as_of=date(2020, 7, 31))
    canon = reconcile.normalize(world_raw, specs, settings)
    matched = reconcile.match(canon)
    disc = reconcile.find_discrepancies(canon, matched, settings)
    empty = pd.DataFrame(columns=LEDGER_COLUMNS, dtype="string")
    disc = reconcile.track_ledger(disc, empty, empty, "2020-07-31", "run-1").discrepancies
    disc.loc[disc.index[::3], "status"] = "resolved"  # not every one open: only open ones count
    whole, whole_others = reconcile.unify_households(canon, matched.matches, disc, settings)
    partial, others = reconcile.unify_matched(canon, matched.matches, settings)
    assert partial["open_discrepancies"].isna().all()
    assert whole["open_discrepancies"].gt(0).any() and whole["open_discrepancies"].eq(0).any()
    # counted here the plain way: open ones naming the household, or no household but the archive
    open_d = disc[disc["status"].isin(["new", "open", "reopened"])]
    want = [int(((open_d["household_no"] == h).fillna(False)
                 | (open_d["household_no"].isna() & (open_d["archive_no"] == a).fillna(False))).sum())
            for h, a in zip(whole["household_no"].astype(object), whole["archive_no"].astype(object))]
    assert whole["open_discrepancies"].tolist() == want
    pd.testing.assert_frame_equal(reconcile.count_open(partial, disc), whole, check_exact=True)
    pd.testing.assert_frame_equal(others, whole_others, check_exact=True)
