"""The reconciliation core as stages: DataFrames in, DataFrames out, no I/O, no clock.

The flow runs each stage as a Prefect task (the scored matching per county partition,
spread over threads or a Dask cluster); :func:`run` calls the same stages one after the
other, for tests and benchmarks. There is one path through the core, whoever runs it.

    raw frames --normalize--> canonical + quarantine
               --match_by_id--> ID matches + residual --partitions/candidates/fit_model/score-->
               --finish_match--> matches --find_discrepancies--> discrepancies
               --track_ledger--> ledger --unify_households--> unified, other_groups

``unify_households`` is also two steps, ``unify_matched`` (from the matches alone) and
``count_open`` (its open discrepancies), so the flow makes the first while the
discrepancies are classified and tracked.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reconcile.compare import LEVELS
from reconcile.discrepancies import classify
from reconcile.frames import isin
from reconcile.fs_model import FSModel
from reconcile.ledger import annotate, changes, update_ledger
from reconcile.ledger_people import apply_people, clerical_decisions, empty_state, values_fingerprint
from reconcile.match import MatchResult, apply_decisions, finish, members_or_empty
from reconcile.match import match_by_id as id_passes
from reconcile.match_scored import (Residual, ScoredResult, assign, combine, features, fit, partition_levels,
                                    residual)
from reconcile.parse import finish_quarantine, parse_source, rejected_quarantine
from reconcile.partition import county_groups
from reconcile.rules import REPEATED_ID, RuleContext
from reconcile.unify import count_open, unify, unify_records
from schemas.config import SourceSpec, load_vocabularies
from schemas.defaults import DEADLINE, PARSE_THREADS, PARTITION_RECORDS
from schemas.frames import CANONICAL, check_raw
from schemas.published import LEDGER_COLUMNS, LEDGER_STATUSES


@dataclass
class Settings:
    as_of: date
    deadline: date = DEADLINE


@dataclass
class Canonical:
    ps: pd.DataFrame
    members: pd.DataFrame
    ha: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: dict[str, int] = field(default_factory=dict)


@dataclass
class Tables:
    matches: pd.DataFrame
    discrepancies: pd.DataFrame
    unified: pd.DataFrame
    other_groups: pd.DataFrame
    quarantine: pd.DataFrame


@dataclass
class IdMatches:
    """The national ID passes' matches, and the residual the scored passes work on."""
    matches: pd.DataFrame
    residual: Residual


@dataclass
class LedgerUpdate:
    ledger: pd.DataFrame         # the scope's ledger after this run
    changes: pd.DataFrame        # what this run changed (``reconcile.ledger.changes``)
    discrepancies: pd.DataFrame  # the discrepancies with their ledger status


def _orphan_members(members: pd.DataFrame, ps: pd.DataFrame) -> pd.Series:
    return ~isin(members["household_no"], ps["household_no"])


@dataclass
class ParsedSources:
    """The sources parsed, before members are checked against households (``normalize``'s
    first half; a partition of a run stops here until every partition has parsed)."""
    ps: pd.DataFrame
    ha: pd.DataFrame
    members: pd.DataFrame
    quarantine: list[pd.DataFrame]
    rows_read: dict[str, int]


def parse_sources(raw: dict[str, pd.DataFrame], specs: dict[str, SourceSpec], settings: Settings,
                  rejected: dict[str, list[dict]] | None = None,
                  repeated: dict[str, pd.Series] | None = None) -> ParsedSources:
    """Each raw frame parsed by its spec, with the columns the core derives from it.
    ``repeated``: per source, the rows whose key repeats an earlier row of the whole
    source (``parse_source``), where ``raw`` is one partition of it; a partition's share
    of a source may then be empty (whoever cut the run checks the whole source)."""
    for name, frame in raw.items():
        if name != "ps_members" and (repeated is None or len(frame)):  # households may not be empty
            check_raw(name, frame)
    # the sources parsed side by side: most of parsing is Arrow and NumPy, which let go of
    # the GIL, so two sources take little more than the longer one on two cores
    with ThreadPoolExecutor(max_workers=PARSE_THREADS) as pool:
        futures = {name: pool.submit(parse_source, frame, specs[name], source=name, as_of=settings.as_of,
                                     repeated=(repeated or {}).get(name)) for name, frame in raw.items()}
        parsed = {name: f.result() for name, f in futures.items()}
    ps, ha = parsed["ps_households"].frame, parsed["ha_archive"].frame
    for frame in (ps, ha):
        frame["county_code"] = frame["village_code"].str[:6]
    secured_values = sorted(load_vocabularies()["secured_result"].secured)
    ha["secured"] = ha["secured_result"].isin(secured_values).astype("boolean").mask(ha["secured_result"].isna())
    members = parsed["ps_members"].frame if "ps_members" in parsed else None
    if members is None:
        members = parse_source(pd.DataFrame({"_row": pd.Series(dtype="int64")}), specs["ps_members"],
                               source="ps_members").frame
    read = {name: len(frame) for name, frame in raw.items()}
    for name, rows in (rejected or {}).items():
        read[name] = read.get(name, 0) + len(rows)
    return ParsedSources(ps, ha, members, [rejected_quarantine(rejected), *(p.quarantine for p in parsed.values())],
                         read)


def orphan_quarantine(members: pd.DataFrame) -> pd.DataFrame:
    """Member rows whose household is no usable PS household, as quarantine rows."""
    return pd.DataFrame({
        "source": "ps_members", "row_number": members["_row"], "record_key": members["household_no"],
        "county_code": pd.NA, "column": "household_no", "value": members["household_no"], "problem": "orphan",
        "reason": "household_no: 户编号不在可用的贫困户记录中 / no usable PS household has this number",
    })


def finish_normalize(parsed: ParsedSources, orphan: pd.Series | None = None) -> Canonical:
    """The canonical frames: members of no usable household quarantined (``orphan``, on
    the members' index, where a partition's members were checked against the whole run's
    households; None: against ``parsed.ps``), every frame checked against its model."""
    members, quarantine = parsed.members, list(parsed.quarantine)
    orphan = _orphan_members(members, parsed.ps) if orphan is None else orphan
    if orphan.any():
        quarantine.append(orphan_quarantine(members[orphan]))
        members = members[~orphan].reset_index(drop=True)
    q = finish_quarantine(quarantine)
    for key, frame in (("ps", parsed.ps), ("ha", parsed.ha), ("members", members)):
        CANONICAL[key].validate(frame, lazy=True)  # a failure here is a bug in Anju, not in the input
    return Canonical(ps=parsed.ps, members=members, ha=parsed.ha, quarantine=q, rows_read=parsed.rows_read)


def normalize(raw: dict[str, pd.DataFrame], specs: dict[str, SourceSpec], settings: Settings,
              rejected: dict[str, list[dict]] | None = None) -> Canonical:
    """Parse each raw frame by its spec and derive the columns the core compares on.

    ``raw`` maps source name (``ps_households``, ``ps_members``, ``ha_archive``) to its
    raw frame; ``ps_members`` may be absent. ``rejected`` maps a source to the rows its
    reader could not split into cells (``meta["rejected_rows"]``): they are quarantined
    with the rest, and counted as read.

    Example (the bundled sample; ``raw`` as the readers give it)::

        canon = normalize(raw, load_source_specs(), Settings(as_of=date(2020, 7, 31)))
        canon.rows_read  # {'ps_households': 2016, 'ha_archive': 2132, 'ps_members': 7241}
    """
    return finish_normalize(parse_sources(raw, specs, settings, rejected))


def match_by_id(canon: Canonical) -> IdMatches:
    """The national ID passes (``id_exact``, ``member_id``), and what they leave for the
    scored passes (an ID is national: these passes cross counties, the scored ones never do).


    Example, on the sample job::

        ids = match_by_id(canon)
        ids.matches["method"].value_counts().to_dict()  # {'id_exact': 1767, 'member_id': 47}
    """
    members = members_or_empty(canon.members)
    # the records' comparison features do not depend on the ID passes: made meanwhile
    with ThreadPoolExecutor(max_workers=1) as pool:
        feats = pool.submit(lambda: (features(canon.ps, "household_no"), features(canon.ha, "archive_no")))
        by_id = id_passes(canon.ps, members, canon.ha)
        return IdMatches(by_id, residual(canon.ps, canon.ha, members, by_id, feats=feats.result()))


def partitions(res: Residual, max_records: int = PARTITION_RECORDS) -> list[Residual]:
    """The residual cut into groups of whole counties of about ``max_records`` records each:
    the units the scored passes run on, on any worker (``reconcile.partition``).


    Example, on the sample job::

        [len(p.ps) for p in partitions(ids.residual)]  # one partition: the sample is small
    """
    return [res.part(g) for g in county_groups(res.counties(), max_records)]


def candidates(part: Residual) -> pd.DataFrame:
    """One partition's candidate pairs with their comparison levels, in key order."""
    return partition_levels(part)


def fit_model(res: Residual, parts: list[pd.DataFrame]) -> FSModel | None:
    """The run's Fellegi-Sunter model, fitted over every partition's candidates (None when
    the ID passes matched nothing to learn from).


    Example, on the sample job::

        model = fit_model(ids.residual, [candidates(p) for p in partitions(ids.residual)])
        model.as_dict(LEVELS)["iterations"]  # 25
    """
    return fit(res, parts)


def score(cand: pd.DataFrame, model: FSModel | None) -> ScoredResult:
    """One partition's scored matches (``id_near``, ``member_id``, ``fuzzy``) and review pairs."""
    return assign(cand, model)


def finish_match(canon: Canonical, ids: IdMatches, scored: list[ScoredResult], model: FSModel | None,
                 decisions: pd.DataFrame | None = None) -> MatchResult:
    """The match table (one row per matched HA record, in key order) from the ID passes and
    every partition's scored result; ``model`` is kept with it for run.json.

    ``decisions``: the people's state of the 台账 (``connectors.ledger_people_store.people_state``):
    a REVIEW_MATCH pair answered 是否同一户=是 is matched ``clerical`` while both records
    exist; one answered 否 is never matched nor asked again. None: no people (unchanged)."""
    matched = finish(canon.ps, ids.matches, combine(scored or [assign(pd.DataFrame(), model)]))
    if decisions is None:
        return matched
    return apply_decisions(canon.ps, canon.ha, matched, *clerical_decisions(decisions))


def match(canon: Canonical, partition_records: int = PARTITION_RECORDS) -> MatchResult:
    """Every matching stage, partition after partition (the flow spreads the partitions
    over its task runner; the result is the same).


    Example, on the sample job::

        matched = match(canon)
        matched.matches.columns.tolist()[:4]  # ['household_no', 'archive_no', 'county_code', 'method']
    """
    ids = match_by_id(canon)
    cands = [candidates(p) for p in partitions(ids.residual, partition_records)]
    model = fit_model(ids.residual, cands)
    return finish_match(canon, ids, [score(c, model) for c in cands], model)


def find_discrepancies(canon: Canonical, matched: MatchResult, settings: Settings) -> pd.DataFrame:
    """Every rule of the catalog over the matched records: one row per discrepancy.


    Example, on the sample job::

        disc = find_discrepancies(canon, matched, Settings(as_of=date(2020, 7, 31)))
        disc["rule"].value_counts()["INVALID_ID"]  # 190
    """
    ctx = RuleContext.build(canon.ps, canon.ha, canon.members, matched.matches, matched.review, settings.as_of,
                            settings.deadline)
    return classify(ctx)


def track_ledger(disc: pd.DataFrame, earlier: pd.DataFrame, today: pd.DataFrame, as_of: str, run_id: str,
                 counties: list[str] | None = None, people: pd.DataFrame | None = None) -> LedgerUpdate:
    """The ledger after this run, from the scope's ledger at the latest earlier date
    (``earlier``) and what an earlier run today left (``today``).

    What this run changed is measured against the scope's ledger as it stood before the
    run (an earlier run today overrides the earlier date's).


    Example, on the sample job::

        update = track_ledger(disc, earlier, today, "2020-07-31", run_id)
        update.ledger["status"].value_counts().to_dict()  # {'new': 1034} on a first run

    ``people``: the people's state of the 台账 (``connectors.ledger_people_store.people_state``):
    their columns are carried, 核实结论=不属实 with a 说明 makes an item ``waived`` (open
    again when its values change), a passed 整改时限 on an open item sets ``overdue``.
    None: no people; the people's columns empty, ``overdue`` false.
    """
    ledger = update_ledger(earlier, disc, as_of, run_id, counties, same_day=today)
    if people is None:  # no people: statuses as the data says, the people's columns empty
        honoured = apply_people(ledger, empty_state(), as_of).assign(status=ledger["status"], overdue=False)
    else:
        honoured = apply_people(ledger, people, as_of, values=values_fingerprint(disc), previous=earlier)
    moved = honoured["status"].astype("string") != ledger["status"].astype("string")
    honoured["changed_by_run"] = honoured["changed_by_run"].astype("string").mask(moved, run_id)
    ledger = honoured[LEDGER_COLUMNS].astype({c: "string" for c in LEDGER_COLUMNS if c != "overdue"})
    moves = changes(pd.concat([earlier, today], ignore_index=True), ledger)
    return LedgerUpdate(ledger, moves, annotate(disc, ledger))


def unify_households(canon: Canonical, matches: pd.DataFrame, disc: pd.DataFrame,
                     settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The unified household table and the archive's other priority groups."""
    return unify(canon.ps, canon.ha, matches, disc, settings.as_of)


def unify_matched(canon: Canonical, matches: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`unify_households` in two steps, so the first can run while the discrepancies
    are classified: everything but ``open_discrepancies`` (NA), which :func:`count_open`
    fills in from the discrepancies (with their ledger status) once they are known.


    Example, on the sample job (the same tables as ``unify_households``)::

        unified, others = unify_matched(canon, matched.matches, settings)
        unified = count_open(unified, disc)
    """
    return unify_records(canon.ps, canon.ha, matches, settings.as_of)


def records(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical records, for the agencies' cleaned extracts (full values: agency use)."""
    return frame.drop(columns=[c for c in frame.columns if c.startswith("extra:") or c == REPEATED_ID]) \
        .reset_index(drop=True)


def published_tables(canon: Canonical, matches: pd.DataFrame, disc: pd.DataFrame, unified: pd.DataFrame,
                     others: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables a run publishes, by name, in the order they are written."""
    return {"matches": matches, "discrepancies": disc, "unified": unified, "quarantine": canon.quarantine,
            "other_groups": others, "records_ps": records(canon.ps), "records_ha": records(canon.ha)}


def run_counts(canon: Canonical, matched: MatchResult, disc: pd.DataFrame, moves: pd.DataFrame) -> dict:
    """The run record's counts: quarantine by problem, discrepancies by rule, ledger
    changes, matches by method, and the fitted model (``FSModel.as_dict``)."""
    return {
        "quarantine_by_problem": canon.quarantine.groupby(["source", "column", "problem"], dropna=False)
        .size().rename("rows").reset_index().astype({"rows": int}).to_dict("records"),
        "discrepancies_by_rule": disc["rule"].value_counts().sort_index().to_dict(),
        "ledger_changes": {k: int(v) for k, v in
                           moves["status"].value_counts().reindex(LEDGER_STATUSES, fill_value=0).items()},
        "matches_by_method": matched.matches["method"].value_counts().sort_index().to_dict(),
        "match_model": matched.model.as_dict(LEVELS) if matched.model is not None else None,
    }


def run(raw: dict[str, pd.DataFrame], specs: dict[str, SourceSpec], settings: Settings,
        partition_records: int = PARTITION_RECORDS) -> Tables:
    """All stages in one call, without a ledger (what the flow does task by task).


    Example, on the sample job::

        tables = run(raw, load_source_specs(), Settings(as_of=date(2020, 7, 31)))
        len(tables.matches), len(tables.discrepancies)  # (2001, 1034)
    """
    canon = normalize(raw, specs, settings)
    matched = match(canon, partition_records)
    disc = find_discrepancies(canon, matched, settings)
    unified, others = unify_households(canon, matched.matches, disc, settings)
    return Tables(matched.matches, disc, unified, others, canon.quarantine)
