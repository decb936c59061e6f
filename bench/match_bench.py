"""Matching benchmark: Anju's passes vs a plain exact-ID join (and Splink when installed).

    python bench/match_bench.py --households 100000 [--splink-python /work/splinkenv/bin/python]

Splink is a benchmark-only dependency in a venv of its own (see bench/splink_baseline.py);
it is not in pyproject.toml or the lock. The benchmark dumps the canonical frames it
matched, runs Splink on them in that venv, and scores both against the same truth.

Generates a world, reads it back through the connectors (Parquet), normalizes, and
times each stage. Prints precision, recall, per-dirt-kind recall, seconds per stage and
peak memory (ru_maxrss) for each method on the same data. Not a test: figures go in
the issue notes.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors import read_source  # noqa: E402
from anju_synth import build_world, write_world  # noqa: E402
from reconcile import pipeline  # noqa: E402
from schemas import load_source_specs  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def score(found: pd.DataFrame, truth: pd.DataFrame) -> dict:
    key = ["household_no", "archive_no"]
    f = found[key].astype(str).drop_duplicates()
    t = truth[key + ["identity"]].astype(str)
    hit = t.merge(f, on=key, how="left", indicator=True)
    tp = int((hit["_merge"] == "both").sum())
    p = tp / len(f) if len(f) else 1.0
    r = tp / len(t) if len(t) else 1.0
    per_kind = hit.groupby("identity")["_merge"].apply(lambda s: round(float((s == "both").mean()), 4)).to_dict()
    return {"pairs": len(f), "true_pairs": len(t), "missed": len(t) - tp, "false": len(f) - tp,
            "precision": round(p, 6), "recall": round(r, 6),
            "f1": round(2 * p * r / (p + r), 6) if p + r else 0.0, "recall_by_kind": per_kind}


def exact_join(canon: pipeline.Canonical) -> pd.DataFrame:
    ps = canon.ps[canon.ps["householder_id_valid"]]
    ha = canon.ha[canon.ha["householder_id_valid"]]
    m = ha[["archive_no", "householder_id"]].merge(ps[["household_no", "householder_id"]], on="householder_id")
    return m.sort_values(["archive_no", "household_no"]).drop_duplicates("archive_no")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--splink-python", help="python of a venv with splink 5: also run Splink on the same data")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="anju-bench-"))
    times: dict[str, float] = {}

    t = time.perf_counter()
    world = build_world(args.households, args.seed)
    write_world(world, out, args.seed, "parquet")
    times["generate"] = time.perf_counter() - t
    del world
    specs = load_source_specs()
    t = time.perf_counter()
    raw = {n: read_source(out / f"{n}.parquet", specs[n]).frame for n in ("ps_households", "ps_members", "ha_archive")}
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    canon = pipeline.normalize(raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))
    times["normalize"] = time.perf_counter() - t
    truth = pd.read_csv(out / "truth" / "pairs.csv", dtype=str)
    report = {"households": args.households, "ps_rows": len(canon.ps), "ha_rows": len(canon.ha),
              "member_rows": len(canon.members)}

    t = time.perf_counter()
    base = exact_join(canon)
    report["exact_join"] = {**score(base, truth), "seconds": round(time.perf_counter() - t, 2)}

    t, c = time.perf_counter(), time.process_time()
    result = pipeline.match(canon)
    times["match"], cpu = time.perf_counter() - t, time.process_time() - c
    report["anju"] = {**score(result.matches, truth), "seconds": round(times["match"], 2),
                      "cpu_seconds": round(cpu, 2), "review_pairs": len(result.review), "model_prior":
                      round(result.model.prior, 5) if result.model is not None else None,
                      "by_method": result.matches["method"].value_counts().to_dict()}
    t = time.perf_counter()
    disc = pipeline.find_discrepancies(canon, result, pipeline.Settings(as_of=date(2020, 7, 31)))
    times["classify"] = time.perf_counter() - t
    expected = pd.read_csv(out / "truth" / "discrepancies.csv", dtype=str)
    per_rule = {}
    key = ["rule", "household_no", "archive_no"]
    f = disc[key].astype("string").fillna("")
    e = expected[key].astype("string").fillna("")
    for rule in sorted(set(e["rule"]) | set(f["rule"])):
        fr, er = f[f["rule"] == rule], e[e["rule"] == rule]
        tp = len(fr.merge(er, on=key))
        per_rule[rule] = {"precision": round(tp / len(fr), 4) if len(fr) else None,
                          "recall": round(tp / len(er), 4) if len(er) else None, "found": len(fr),
                          "expected": len(er)}
    report["rules"] = per_rule
    report["seconds"] = {k: round(v, 2) for k, v in times.items()}
    report["peak_mb_before_splink"] = round(peak_mb())

    if args.splink_python:
        import subprocess

        # Anju's figures first: a Splink run at 1M takes long and may not finish.
        print(json.dumps(report, ensure_ascii=False), file=sys.stderr, flush=True)

        from reconcile.names import pinyin_keys

        dump = out / "splink"
        dump.mkdir()
        cols = ["householder_id", "householder_name", "county_code", "village_code", "household_size"]
        for name, frame, key in (("ps", canon.ps, "household_no"), ("ha", canon.ha, "archive_no")):
            f = frame[[key, *cols]].copy()
            f["pinyin"] = pinyin_keys(f["householder_name"])
            f.astype({"household_size": "float64"}).to_parquet(dump / f"{name}.parquet", index=False)
        canon.members[["household_no", "name", "id_no"]].to_parquet(dump / "members.parquet", index=False)
        del canon, result, disc
        done = subprocess.run([args.splink_python, str(ROOT / "bench" / "splink_baseline.py"), str(dump)],
                              stdout=subprocess.PIPE, text=True, check=True)
        pairs = pd.read_parquet(dump / "splink_pairs.parquet")
        report["splink"] = {**score(pairs, truth), "seconds": json.loads(done.stdout.strip().splitlines()[-1])["seconds"]}
        report["speedup_match_stage"] = round(report["splink"]["seconds"] / report["anju"]["seconds"], 1)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
