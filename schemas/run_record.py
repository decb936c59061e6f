"""The run record: what one reconcile run read, produced and decided, as written to run.json.

The flow fills it stage by stage; the CLI summary, the artifacts, the reports and the store
read it. ``as_dict`` gives run.json's keys in their published order; the keys a run adds
late (``guards`` and ``gate`` at publication, ``finished_at``, ``published``) are left out
until they are set, so a held or failed run's record says what it got to.

``from_dict`` refuses a key it does not know: run.json is written only by Anju, so an
unknown key is a typo or a newer writer, and either should fail loudly rather than be lost.

    >>> r = RunRecord(run_id="20200731-abc", as_of="2020-07-31", scope="all", started_at="t0")
    >>> list(r.as_dict())[:4]
    ['run_id', 'as_of', 'scope', 'started_at']
    >>> RunRecord.from_dict(r.as_dict()) == r
    True
    >>> "gate" in r.as_dict()
    False
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Set only once the run gets that far; absent from run.json until then.
LATE = ("guards", "gate", "finished_at", "published")


@dataclass
class RunRecord:
    run_id: str
    as_of: str  # ISO date
    scope: str  # "all", or the county codes joined by ","
    started_at: str  # ISO timestamp, UTC
    parameters: dict[str, Any] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)  # drop exports named late, stale, unchanged, duplicated
    inputs: dict[str, dict] = field(default_factory=dict)  # per source: location, format, rows read/used/...
    tables: dict[str, int] = field(default_factory=dict)  # rows per published table
    quarantine_by_problem: list[dict] = field(default_factory=list)
    discrepancies_by_rule: dict[str, int] = field(default_factory=dict)
    ledger_changes: dict[str, int] = field(default_factory=dict)
    matches_by_method: dict[str, int] = field(default_factory=dict)
    match_model: dict | None = None  # the fitted Fellegi-Sunter model (FSModel.as_dict), None when none was fitted
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    versions: dict[str, str] = field(default_factory=dict)
    guards: dict | None = None  # the volume guard's outcome
    gate: dict | None = None  # the publishing gate's outcome
    finished_at: str | None = None
    published: str | None = None  # the published folder (returned by the flow, not in run.json)

    def as_dict(self) -> dict[str, Any]:
        """The record as run.json holds it, keys in declaration order, late keys once set."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in LATE or getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        """The record of a run.json (or of the dict the flow returns); ValueError on an unknown key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"run record: unknown key(s) {', '.join(unknown)}")
        return cls(**data)
