"""The passes for records the exact-ID passes left: near-ID, then a scored comparison.

Candidates come from blocks (county + name pinyin, county + birth date, village +
surname); blocks too common to tell apart are skipped. Every candidate gets comparison
levels (``compare.py``) and a Fellegi-Sunter probability (``fs_model.py``).

- ``id_near``: IDs one substitution or one adjacent swap apart, names agree (same
  characters or same pinyin), same county: matched, whatever the score says.
- ``fuzzy``: probability at or above ``accept``: matched.
- ``review``: probability in ``[review, accept)``: not matched; REVIEW_MATCH asks a person.
Each side is assigned at most once, by rounds of mutual best score (ties by key), so
the result never depends on input order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.frames import isin

from reconcile import compare
from reconcile.fs_model import FSModel, estimate
from reconcile.names import pinyin_keys
from schemas.config import load_matching_settings

BLOCKS = (("county_code", "pinyin"), ("county_code", "birth"), ("village_code", "surname"))
FIELDS = ("name", "id", "village", "size", "member")
KNOWN_SAMPLE = 50_000
NEAR_WITHOUT_MODEL = 0.99  # the score of a near-ID match when the run has no data to fit the model


@dataclass
class ScoredResult:
    matches: pd.DataFrame   # household_no, archive_no, method, score, agreement
    review: pd.DataFrame    # household_no, archive_no, score, agreement
    model: FSModel | None


def features(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    digits = compare.id_digits(frame["householder_id"], frame["householder_id_problem"])
    name = frame["householder_name"].astype("string")
    f = pd.DataFrame({key: frame[key].astype("string"), "county_code": frame["county_code"],
                      "village_code": frame["village_code"], "name": name, "pinyin": pinyin_keys(name),
                      "surname": name.str[:1], "digits": digits,
                      "birth": digits.str[6:14].where(digits.str.len() >= 14), "size": frame["household_size"],
                      "valid": frame["householder_id_valid"].astype(bool)})
    return f


def candidates(ps_f: pd.DataFrame, ha_f: pd.DataFrame, max_block: int) -> pd.DataFrame:
    found = []
    for keys in BLOCKS:
        keys = list(keys)
        left, right = ps_f.dropna(subset=keys), ha_f.dropna(subset=keys)
        big_l = left.groupby(keys).size().loc[lambda s: s > max_block].index
        big_r = right.groupby(keys).size().loc[lambda s: s > max_block].index
        left = left[~left.set_index(keys).index.isin(big_l.union(big_r))]
        right = right[~right.set_index(keys).index.isin(big_l.union(big_r))]
        found.append(left[["household_no", *keys]].merge(right[["archive_no", *keys]], on=keys)[
            ["household_no", "archive_no"]])
    return pd.concat(found, ignore_index=True).drop_duplicates(ignore_index=True)


def levels(pairs: pd.DataFrame, ps_f: pd.DataFrame, ha_f: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    p = pairs.merge(ps_f, on="household_no").merge(ha_f, on="archive_no", suffixes=("_ps", "_ha"))
    in_roster = p[["household_no", "name_ha"]].merge(
        roster.rename(columns={"name": "name_ha"}).assign(_in=True), on=["household_no", "name_ha"], how="left")
    out = pd.DataFrame({
        "household_no": p["household_no"], "archive_no": p["archive_no"],
        "county_same": (p["county_code_ps"] == p["county_code_ha"]).fillna(False).to_numpy(),
        "name": compare.name_levels(p["name_ps"], p["name_ha"], p["pinyin_ps"], p["pinyin_ha"]),
        "id": compare.id_levels(p["digits_ps"], p["digits_ha"]),
        "village": compare.village_levels(p["village_code_ps"], p["village_code_ha"]),
        "size": compare.size_levels(p["size_ps"], p["size_ha"]),
        "member": np.where(in_roster["_in"].fillna(False).to_numpy(dtype=bool), 0, 1).astype(np.int8),
        "valid_ps": p["valid_ps"].to_numpy(dtype=bool), "valid_ha": p["valid_ha"].to_numpy(dtype=bool),
    })
    return out


def mutual_best(c: pd.DataFrame, rounds: int = 10) -> pd.DataFrame:
    c = c.sort_values(["score", "household_no", "archive_no"], ascending=[False, True, True])
    taken = []
    for _ in range(rounds):
        if c.empty:
            break
        best_for_ha = c.drop_duplicates("archive_no")
        best_for_ps = c.drop_duplicates("household_no")[["household_no", "archive_no"]]
        mutual = best_for_ha.merge(best_for_ps, on=["household_no", "archive_no"])
        if mutual.empty:
            break
        taken.append(mutual)
        c = c[~isin(c["household_no"], mutual["household_no"]) & ~isin(c["archive_no"], mutual["archive_no"])]
    return pd.concat(taken, ignore_index=True) if taken else c.iloc[0:0]


def _known(ps_f, ha_f, roster, matched: pd.DataFrame, max_block: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Level frames of known pairs (exact matches) and known non-pairs (their block mates)."""
    sample = matched.drop_duplicates("household_no")
    if len(sample) > KNOWN_SAMPLE:
        sample = sample.sample(KNOWN_SAMPLE, random_state=0)
    ps_k = ps_f[isin(ps_f["household_no"], sample["household_no"])]
    ha_k = ha_f[isin(ha_f["archive_no"], matched["archive_no"])]
    pos = levels(sample[["household_no", "archive_no"]], ps_f, ha_f, roster)
    cand = candidates(ps_k, ha_k, max_block)
    cand = cand.merge(matched[["household_no", "archive_no"]].assign(_true=True), how="left",
                      on=["household_no", "archive_no"])
    neg = levels(cand[cand["_true"].isna()][["household_no", "archive_no"]], ps_f, ha_f, roster)
    return pos, neg


@dataclass
class Residual:
    """What the ID passes left, as comparison features, and the pairs the model learns from.

    Candidates never cross a county (every block holds the county or the village), so the
    residual splits by county into partitions that are blocked, compared and assigned
    independently; only the model is fitted over all of them.
    """
    ps: pd.DataFrame       # features of unmatched PS households
    ha: pd.DataFrame       # features of unmatched HA records
    roster: pd.DataFrame   # household_no, name of those households' members
    known: tuple[pd.DataFrame, pd.DataFrame] | None  # level frames of known pairs / non-pairs

    def counties(self) -> pd.Series:
        """Residual records per county (both sides), the partitions' weights."""
        both = pd.concat([self.ps["county_code"], self.ha["county_code"]], ignore_index=True)
        return both.value_counts().sort_index()

    def part(self, counties: list[str]) -> "Residual":
        ps = self.ps[isin(self.ps["county_code"], counties)]
        return Residual(ps, self.ha[isin(self.ha["county_code"], counties)],
                        self.roster[isin(self.roster["household_no"], ps["household_no"])], None)


def residual(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame, matched: pd.DataFrame) -> Residual:
    cfg = load_matching_settings()
    ps_f, ha_f = features(ps, "household_no"), features(ha, "archive_no")
    roster = members[["household_no", "name"]].dropna().drop_duplicates()
    known = None if matched.empty else _known(ps_f, ha_f, roster, matched, cfg["max_block_size"])
    rest_ps = ps_f[~isin(ps_f["household_no"], matched["household_no"])]
    return Residual(rest_ps, ha_f[~isin(ha_f["archive_no"], matched["archive_no"])],
                    roster[isin(roster["household_no"], rest_ps["household_no"])], known)


def partition_levels(part: Residual) -> pd.DataFrame:
    """Candidate pairs of one partition with their comparison levels, in key order."""
    cfg = load_matching_settings()
    cand = levels(candidates(part.ps, part.ha, cfg["max_block_size"]), part.ps, part.ha, part.roster)
    return cand.sort_values(["household_no", "archive_no"], ignore_index=True)


def fit(res: Residual, parts: list[pd.DataFrame]) -> FSModel | None:
    """The Fellegi-Sunter model of this run, from every partition's candidates (in key
    order, so the fit does not depend on how the run was partitioned)."""
    cfg = load_matching_settings()
    if res.known is None:
        return None
    cand = pd.concat(parts, ignore_index=True).sort_values(["household_no", "archive_no"], ignore_index=True)
    n_levels = {f: len(cfg["levels"][f]) for f in FIELDS}
    return estimate(*res.known, cand, n_levels, iterations=cfg["em_iterations"])


def assign(cand: pd.DataFrame, model: FSModel | None) -> ScoredResult:
    """Score one partition's candidates and decide: id_near, fuzzy, review or nothing."""
    cfg = load_matching_settings()
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ("household_no", "archive_no", "agreement")})
    if cand.empty:
        return ScoredResult(empty.assign(method=pd.Series(dtype="string"), score=pd.Series(dtype=float)),
                            empty.assign(score=pd.Series(dtype=float)), model)
    cand = cand.copy()
    if model is None:  # nothing to learn from (a tiny re-run): the near-ID rule alone, no scored pass
        cand["score"] = np.where((cand["id"] == 0) & (cand["name"] <= 1), NEAR_WITHOUT_MODEL, 0.0)
    else:
        cand["score"] = model.probability(cand)
    cand["agreement"] = compare.describe(cand)

    near = cand[(cand["id"] == 0) & (cand["name"] <= 1) & cand["county_same"]]
    near = mutual_best(near).assign(method="id_near")
    # Two valid resident IDs that differ belong to two people: had they been one, the ID
    # passes would have matched them. Only a pair with a broken ID is left to the score.
    broken = ~(cand["valid_ps"] & cand["valid_ha"])
    rest = cand[broken & ~isin(cand["household_no"], near["household_no"]) & ~isin(cand["archive_no"], near["archive_no"])]
    fuzzy = mutual_best(rest[rest["score"] >= cfg["accept"]]).assign(method="fuzzy")
    done = pd.concat([near, fuzzy], ignore_index=True)
    left = rest[~isin(rest["household_no"], done["household_no"]) & ~isin(rest["archive_no"], done["archive_no"])]
    review = left[left["score"] >= cfg["review"]].sort_values(
        ["score", "archive_no", "household_no"], ascending=[False, True, True]).drop_duplicates("archive_no")
    cols = ["household_no", "archive_no", "method", "score", "agreement"]
    return ScoredResult(done[cols], review[["household_no", "archive_no", "score", "agreement"]], model)


def combine(results: list[ScoredResult]) -> ScoredResult:
    """One result from the partitions' results."""
    review = pd.concat([r.review for r in results], ignore_index=True).sort_values(
        ["score", "archive_no", "household_no"], ascending=[False, True, True], ignore_index=True)
    return ScoredResult(pd.concat([r.matches for r in results], ignore_index=True), review,
                        results[0].model if results else None)


def match_residual(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame,
                   matched: pd.DataFrame) -> ScoredResult:
    """The scored passes in one partition (what the flow runs partition by partition)."""
    res = residual(ps, ha, members, matched)
    cand = partition_levels(res)
    return combine([assign(cand, fit(res, [cand]))])
