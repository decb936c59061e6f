"""Flow-side wiring of drop folders and the volume guard (what ``reconcile`` calls).

1. :func:`resolve_locations`, before extract: every ``drop:`` source becomes the local
   kept copy of the export it takes (``OUT/.inputs/<as_of>/<source>/<sha16>/<file>``).
   The rule "a re-run of a date reads the same bytes": when the run published for that
   date read a drop, and its kept copy is still there with the same checksum, a re-run
   reads that copy again, whatever the drop folder holds now (``reuse_inputs``, on by
   default; off, ``--fresh-inputs``, takes the drop folder's newest export again, e.g.
   after an agency re-delivered that date's export). A run that was held published
   nothing, so a re-run after it looks at the drop folder again.
2. :func:`check_exports`: stale exports (dated more than ``max_age_days`` before as_of)
   and exports byte-identical to what the last published run read are named; the
   settings say which of the two holds publication (:class:`ExportHold`).
3. :func:`run_guards`, in publish before the gate: the ``guards`` suites against the
   previous published run; a breach holds (:class:`schemas.guards.GuardHold`) unless its
   county was accepted.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from connectors.datadocs import run_gate
from connectors.drops import Drop, is_drop_location, parse_drop, resolve_drop
from connectors.previous_run import PROFILE_FILE, latest_published, read_profile, run_json, usual_resolved_share
from connectors.sources import sha256_file
from reconcile import mask_full_ids
from schemas import defaults
from schemas.guards import GuardHold, GuardThresholds, breaches, guard_frames, hold_message, profile
from schemas.published import PublishGateError

GUARD_DOCS = "datadocs_guards"


class ExportHold(PublishGateError):
    """An export is stale (or unchanged) and the settings say that holds publication."""


@dataclass(frozen=True)
class DropPolicy:
    max_age_days: int = defaults.MAX_AGE_DAYS
    hold_stale: bool = defaults.HOLD_STALE
    hold_unchanged: bool = defaults.HOLD_UNCHANGED
    reuse_inputs: bool = defaults.REUSE_INPUTS

    @classmethod
    def from_settings(cls, section: dict | None) -> "DropPolicy":
        unknown = sorted(set(section or {}) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"drops: unknown setting(s) {', '.join(unknown)}")
        return cls(**{k: _typed(getattr(cls(), k), v, k) for k, v in (section or {}).items()})


def _typed(default, value, name: str):
    """A setting as its default's type; "false" from a form or an environment is no True."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            return value.strip().lower() in ("true", "yes", "1", "on")
        if isinstance(value, bool):
            return value
        raise ValueError(f"drops.{name}: {value!r} is not true or false")
    return type(default)(value)


def _reusable(recorded: dict | None) -> Path | None:
    """The kept copy a published run read, if it is still there, byte for byte."""
    if not recorded or not recorded.get("kept"):
        return None
    kept = Path(recorded["kept"])
    return kept if kept.is_file() and sha256_file(kept) == recorded.get("sha256") else None


def resolve_locations(locations: dict[str, str], out: str | Path, as_of: date,
                      policy: DropPolicy = DropPolicy()) -> tuple[dict[str, str], dict[str, dict]]:
    """``locations`` with every ``drop:`` source replaced by its kept local copy, and what
    each drop took (run.json ``inputs.<source>.drop``)."""
    day = as_of.isoformat()
    same_day = run_json(latest_published(out, day, same_day=True)) if policy.reuse_inputs else {}
    same_day = same_day if same_day.get("as_of") == day else {}
    before = latest_published(out, day, same_day=False)
    last = run_json(before)
    local, drops = dict(locations), {}
    for source, loc in locations.items():
        if not loc or not is_drop_location(loc):
            continue
        recorded = same_day.get("inputs", {}).get(source, {}).get("drop")
        kept = _reusable(recorded)
        if kept is not None:
            local[source], drops[source] = str(kept), {**recorded, "reused": True}
            continue
        got: Drop = resolve_drop(parse_drop(loc), source, as_of, Path(out) / ".inputs" / day,
                                 max_age_days=policy.max_age_days,
                                 previous_sha256=last.get("inputs", {}).get(source, {}).get("sha256"))
        got.meta.update(reused=False, previous_run=last.get("as_of"))
        local[source], drops[source] = str(got.path), got.meta
    return local, drops


def findings(drops: dict[str, dict], as_of: date) -> list[dict]:
    """What a person should know about the exports taken: late, stale, unchanged, duplicated."""
    out = []
    for source, d in sorted(drops.items()):
        if d.get("reused"):
            out.append({"source": source, "kind": "reused", "text": f"{source}: re-run reads the kept copy of "
                        f"{d['file']} (sha256 {d['sha256'][:12]}…), as the published run for {as_of} did"})
            continue
        if d["export_date"] != as_of.isoformat():
            kind = "stale" if not d["fresh"] else "late"
            out.append({"source": source, "kind": kind, "text": f"{source}: no export dated {as_of}; took {d['file']}"
                        f" ({d['age_days']} day(s) old" + (f", stale: more than {d['max_age_days']})" if kind == "stale"
                                                           else ")")})
        if d["same_as_previous"]:
            out.append({"source": source, "kind": "unchanged", "text": f"{source}: {d['file']} is byte-identical to "
                        f"what the last run read ({d.get('previous_run')})"})
        if d.get("note"):
            out.append({"source": source, "kind": "duplicate", "text": f"{source}: {d['note']}"})
    return out


def check_exports(drops: dict[str, dict], as_of: date, policy: DropPolicy = DropPolicy()) -> list[dict]:
    """The findings, or :class:`ExportHold` when one of them holds publication by the settings."""
    found = findings(drops, as_of)
    holding = [f["text"] for f in found if (f["kind"] == "stale" and policy.hold_stale)
               or (f["kind"] == "unchanged" and policy.hold_unchanged)]
    if holding:
        raise ExportHold(f"publication held: {'; '.join(holding)}; nothing published, last good outputs kept "
                         "(to publish it anyway: --allow-stale, or settings drops.hold_stale / drops.hold_unchanged)")
    return found


def current_profile(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return profile({"ps_households": tables["records_ps"], "ha_archive": tables["records_ha"]})


def _whole_run_share(ledger: pd.DataFrame, as_of: str) -> float:
    """The share of the open discrepancies this run resolved, over the whole run (recorded
    for the usual share of later runs, however few discrepancies there were)."""
    resolved = int(((ledger["status"] == "resolved") & (ledger["resolved_at"] == as_of)).fillna(False).sum())
    base = resolved + int((ledger["status"] == "open").fillna(False).sum())
    return resolved / base if base else 0.0


def run_guards(tables: dict[str, pd.DataFrame], ledger: pd.DataFrame, as_of: str, run_id: str, folder: Path,
               out: Path, accepted: list[str] | None = None, thresholds: GuardThresholds = GuardThresholds(),
               usual_runs: int = defaults.USUAL_RUNS) -> tuple[dict, pd.DataFrame]:
    """The volume and shape guard over what is about to be published; its Data Docs in
    ``folder/datadocs_guards``. Returns run.json's ``guards`` and the profile to publish
    (``guard_profile.parquet``); raises :class:`GuardHold` naming county and figure."""
    prev_folder = latest_published(out, as_of, same_day=True)
    prev, now = read_profile(prev_folder), current_profile(tables)
    usual = usual_resolved_share(out, as_of, usual_runs)
    accepted = sorted(set(accepted or []))
    frames = guard_frames(now, prev, ledger, as_of, usual_share=usual, thresholds=thresholds, accepted=accepted)
    found = breaches(frames)
    waived = [b for b in breaches(guard_frames(now, prev, ledger, as_of, usual_share=usual, thresholds=thresholds))
              if b.split(":", 1)[0] in accepted]
    docs = Path(folder) / GUARD_DOCS
    outcome = run_gate(frames, docs, f"{run_id}-guards", group="guards", mask_ids=mask_full_ids)
    summary = {"evaluated": outcome.evaluated, "failed": outcome.failed, "breaches": found, "accepted": accepted,
               "accepted_changes": waived, "compared_with": run_json(prev_folder).get("run_id"),
               "resolved_share": _whole_run_share(ledger, as_of),
               "usual_resolved_share": usual, "seconds": outcome.seconds, "data_docs": f"{GUARD_DOCS}/index.html"}
    if not outcome.success or found:
        kept = Path(out) / ".failed" / as_of / run_id
        shutil.copytree(docs, kept / GUARD_DOCS, dirs_exist_ok=True)
        (kept / "guards.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        raise GuardHold(hold_message(found or [outcome.describe()], str(kept / GUARD_DOCS / "index.html")))
    return summary, now


def summary_lines(run: dict) -> list[str]:
    """Lines for the CLI summary, the report and the Prefect artifact: exports and guard."""
    lines = []
    for source, i in run.get("inputs", {}).items():
        d = i.get("drop")
        if d:
            lines.append(f"{source}: {d['file']} from {d['location']} (export {d['export_date']}, "
                         f"{d['age_days']} day(s) old, sha256 {d['sha256'][:12]}…)")
    lines += [f["text"] for f in run.get("exports", [])]
    g = run.get("guards")
    if g:
        against = f"run {g['compared_with']}" if g["compared_with"] else "no earlier published run (nothing to compare)"
        lines.append(f"volume guard: {g['evaluated']} expectations passed against {against}"
                     + (f"; accepted: {'; '.join(g['accepted_changes'])}" if g["accepted_changes"] else ""))
    return lines


PROFILE_NAME = PROFILE_FILE.removesuffix(".parquet")  # Staging.write_table(PROFILE_NAME, profile)
