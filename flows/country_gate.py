"""The publishing gate of a country run: the suites per partition, the keys across them.

Each partition's tables go through the suites of ``schemas/gate.yaml`` on the worker
that holds them, over the same frames as ``anju reconcile``'s gate
(``reconcile.gate_frames``; the progress rows of the partition's counties), all but
``accounting``: a partition reads rows other partitions use, so rows read against rows
accounted for is checked once over the run's totals. A uniqueness a suite declares
(``schemas.gate.unique_keys``) holds in a partition and must hold across them: each
partition sends its keys to buckets of their hash, and each bucket finds the keys that
more than one row holds, wherever they came from.

Data Docs are written only for a partition that fails (``datadocs/part-NNNNN/``, a
hundred sites of passing suites would be read by no one) and kept with the summary
under ``OUT/.failed/AS_OF/RUN`` as the single process keeps its own; a failed gate
raises before anything is swapped in.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import reconcile as core
from connectors.datadocs import run_gate
from connectors.run_files import keep_failed_gate
from schemas.gate import load_suites, unique_keys
from schemas.published import PublishGateError

NATIONAL = ("accounting",)  # suites only the whole run answers
NO_ACCOUNTING = pd.DataFrame({c: pd.Series(dtype="int64") for c in
                              ("rows_read", "rows_used", "rows_quarantined", "rows_out_of_scope")}
                             ).assign(source=pd.Series(dtype="string"))


def part_suites() -> list[str]:
    return [s.name for s in load_suites() if s.name not in NATIONAL]


def gate_part(box, i: int, folder: str, run_id: str, as_of, deadline, buckets: int) -> dict:
    """The suites over partition ``i``'s tables; its unique keys sent to their buckets."""
    tables, led = box.kept("tables", i), box.kept("ledger", i).get("ledger")
    if "matches" not in tables:  # no records of its own: its ledger items (of counties only the ledger knows)
        if led is None or not len(led):
            box.put("gate_keys", {}, i)
            return {"part": i, "evaluated": 0, "failed": [], "seconds": 0.0, "describe": ""}
        return {"part": i, **_checked(box, i, lambda named: {"ledger": core.ledger_frame(led, named)}, ["ledger"],
                                      folder, run_id, buckets)}
    published = tables | {"ledger": led, "progress": core.monthly_progress(
        tables["records_ha"], tables["unified"], as_of, deadline, ledger=led)}
    rows = core.analyst_view(tables["discrepancies"])
    return {"part": i, **_checked(box, i, lambda named: core.gate_frames(published, rows, NO_ACCOUNTING, named),
                                  part_suites(), folder, run_id, buckets)}


def _checked(box, i: int, frames_of, suites: list[str], folder: str, run_id: str, buckets: int) -> dict:
    """``suites`` over ``frames_of(named=False)``, and only when one fails again over frames
    whose rows name their records, with the partition's Data Docs; the keys to their buckets."""
    frames = frames_of(False)
    box.put("gate_keys", core.gate_key_probe(frames, unique_keys(), buckets), i)
    outcome = run_gate(frames, None, run_id, mask_ids=core.mask_full_ids, suites=suites)
    if not outcome.success:
        outcome = run_gate(frames_of(True), Path(folder, "datadocs", f"part-{i:05d}"), run_id,
                           mask_ids=core.mask_full_ids, suites=suites)
    return _outcome(outcome)


def _outcome(outcome) -> dict:
    return {"evaluated": outcome.evaluated, "failed": outcome.failed, "seconds": outcome.seconds,
            "describe": outcome.describe()}


def gate_keys_bucket(box, b: int) -> list[dict]:
    return core.repeated_across(box.take("gate_keys", b))


def national_gate(accounting: pd.DataFrame, run_id: str) -> dict:
    return _outcome(run_gate({"accounting": core.accounting_frame(accounting)}, None, run_id,
                             mask_ids=core.mask_full_ids, suites=NATIONAL))


def gate(mapper, box, parts: int, buckets: int, accounting: pd.DataFrame, folder: Path, out: Path,
         run_id: str, as_of, deadline) -> dict:
    """Every partition's suites, the keys across partitions, the run's accounting; the
    summary for run.json. Raises ``PublishGateError`` naming what failed."""
    done = mapper(gate_part, [(box, i, str(folder), run_id, as_of, deadline, buckets) for i in range(parts)])
    repeated = [r for found in mapper(gate_keys_bucket, [(box, b) for b in range(buckets)]) for r in found]
    box.discard("gate_keys")
    whole = mapper(national_gate, [(accounting, run_id)])[0]  # on a Dask worker, GX stays out of the flow's process
    failed_parts = [d for d in done if d["failed"]]
    summary = {"evaluated": sum(d["evaluated"] for d in done) + whole["evaluated"] + len(unique_keys()),
               "failed": [f for d in failed_parts for f in d["failed"]] + whole["failed"],
               "repeated_across_partitions": _merged(repeated),
               "seconds": round(sum(d["seconds"] for d in done) + whole["seconds"], 3),
               "failed_partitions": [d["part"] for d in failed_parts],
               "data_docs": [f"datadocs/part-{d['part']:05d}/index.html" for d in failed_parts]}
    if summary["failed"] or summary["repeated_across_partitions"]:
        kept = keep_failed_gate(folder, out, str(as_of), run_id, summary)
        lines = [f"partition {d['part']}: {d['describe']}" for d in failed_parts]
        lines += [f"the run: {whole['describe']}"] if whole["failed"] else []
        lines += [f"{r['key']} is not unique across partitions: {r['values']} values in {r['rows']} rows "
                  f"(first: {'; '.join(r['examples'])})" for r in summary["repeated_across_partitions"]]
        raise PublishGateError(
            f"publishing gate failed: {len(summary['failed']) + len(summary['repeated_across_partitions'])} "
            f"of {summary['evaluated']} expectations; nothing published, last good outputs kept.\n  "
            + "\n  ".join(lines) + f"\n  Gate summary and Data Docs: {kept}")
    return summary


def _merged(repeated: list[dict]) -> list[dict]:
    """One entry per key over every bucket's findings."""
    out: dict[str, dict] = {}
    for r in repeated:
        m = out.setdefault(r["key"], {"key": r["key"], "values": 0, "rows": 0, "examples": []})
        m["values"] += r["values"]
        m["rows"] += r["rows"]
        m["examples"] = sorted(m["examples"] + r["examples"])[:5]
    return [out[k] for k in sorted(out)]
