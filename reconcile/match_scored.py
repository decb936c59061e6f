"""The passes for records the exact-ID passes left: near-ID, then a scored comparison.

Candidates come from blocks (county + name pinyin, county + birth date, village +
surname; the same county blocks on every roster member, so a changed householder is
proposed); blocks too common to tell apart are skipped. Every candidate gets comparison
levels (``compare.py``) and a Fellegi-Sunter probability (``fs_model.py``).

- ``id_near``: IDs one substitution or one adjacent swap apart (or an Excel number whose
  kept digits agree, rounded alike), names agree (same characters or same pinyin), same
  county: matched, whatever the score says.
- ``member_id`` (near): the HA householder has the name of a non-householder roster
  member and an ID one typo from theirs (or its Excel digits agree): the householder
  changed; matched whatever the score says.
- ``fuzzy``: probability at or above ``accept``: matched.
- ``review``: probability in ``[review, accept)``: not matched; REVIEW_MATCH asks a person.
Each side is assigned at most once, by rounds of mutual best score (ties by key), so
the result never depends on input order.

Then the left-over HA records that look like another copy of an archive already matched
(same name, village and household size as it, no valid ID of their own, an ID that is
missing, Excel-kept or at most one slip from the PS householder's) are
matched to that household too: the spec wants every duplicate matched. A record with a
valid ID of its own (the spouse's record, a same-name neighbour) never attaches so.
Every scored match carries its per-field weights and a Chinese one-line explanation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.frames import isin, sort_rows

from reconcile import compare
from reconcile.fs_model import FSModel, add_patterns, estimate_from_counts, level_counts, pattern_counts
from reconcile.names import pinyin_keys
from schemas.config import load_matching_settings

BLOCKS = (("county_code", "pinyin"), ("county_code", "birth"), ("village_code", "surname"))
ROSTER_BLOCKS = (("county_code", "pinyin"), ("county_code", "birth"))
ID_NEAR = tuple(compare.level_index("id", name) for name in ("near", "excel"))  # a roster member's own ID, mistyped
MEMBER_NEAR, MEMBER_NAME, MEMBER_NONE = (compare.level_index("member", name)
                                         for name in ("name_and_id", "name_in_roster", "not_in_roster"))
ID_CLOSE = tuple(compare.level_index("id", name) for name in ("near", "excel", "missing"))  # IDs a second copy of one archive may carry
COPY_MAX_DIFFERENCES = 2  # ... or one slip that changed two characters (a birth month typed 13)
FIELDS = ("name", "id", "village", "size", "member")
KNOWN_SAMPLE = 50_000
SAMPLE_HASH_KEY = "anju-known-pair!"  # 16 bytes, as pandas asks
NEAR_WITHOUT_MODEL = 0.99  # the score of a near-ID match when the run has no data to fit the model


@dataclass
class ScoredResult:
    matches: pd.DataFrame   # household_no, archive_no, method, score, agreement, member_name, weights, explanation
    review: pd.DataFrame    # household_no, archive_no, score, agreement, weights, explanation
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


def candidates(ps_f: pd.DataFrame, ha_f: pd.DataFrame, max_block: int,
               roster_f: pd.DataFrame | None = None) -> pd.DataFrame:
    found = []
    sides = [(keys, ps_f) for keys in BLOCKS]
    if roster_f is not None and len(roster_f):
        sides += [(keys, roster_f) for keys in ROSTER_BLOCKS]
    for keys, left in sides:
        keys = list(keys)
        left, right = left.dropna(subset=keys), ha_f.dropna(subset=keys)
        big_l = left.groupby(keys).size().loc[lambda s: s > max_block].index
        big_r = right.groupby(keys).size().loc[lambda s: s > max_block].index
        left = left[~left.set_index(keys).index.isin(big_l.union(big_r))]
        right = right[~right.set_index(keys).index.isin(big_l.union(big_r))]
        found.append(left[["household_no", *keys]].merge(right[["archive_no", *keys]], on=keys)[
            ["household_no", "archive_no"]])
    return pd.concat(found, ignore_index=True).drop_duplicates(ignore_index=True)


def levels(pairs: pd.DataFrame, ps_f: pd.DataFrame, ha_f: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    p = pairs.merge(ps_f, on="household_no").merge(ha_f, on="archive_no", suffixes=("_ps", "_ha"))
    member, changed = member_levels(p, roster)
    out = pd.DataFrame({
        "household_no": p["household_no"], "archive_no": p["archive_no"],
        "county_same": (p["county_code_ps"] == p["county_code_ha"]).fillna(False).to_numpy(),
        "name": compare.name_levels(p["name_ps"], p["name_ha"], p["pinyin_ps"], p["pinyin_ha"]),
        "id": compare.id_levels(p["digits_ps"], p["digits_ha"]),
        "village": compare.village_levels(p["village_code_ps"], p["village_code_ha"]),
        "size": compare.size_levels(p["size_ps"], p["size_ha"]),
        "member": member, "changed": changed, "member_name": p["name_ha"].astype("string"),
        "valid_ps": p["valid_ps"].to_numpy(dtype=bool), "valid_ha": p["valid_ha"].to_numpy(dtype=bool),
    })
    return out


def member_levels(p: pd.DataFrame, roster: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The HA householder against every roster member of the PS household: index into
    ``LEVELS["member"]``, and whether it is a non-householder member by name and near ID
    (the householder changed). Only same-name members are compared, so the join stays
    about as long as the pairs."""
    p = p.reset_index(drop=True)
    roster = roster[isin(roster["household_no"], p["household_no"])]
    hit = p[["household_no", "name_ha", "digits_ha"]].reset_index().merge(
        roster.rename(columns={"name": "name_ha"}), on=["household_no", "name_ha"])
    level = np.full(len(p), MEMBER_NONE, dtype=np.int8)
    changed = np.zeros(len(p), dtype=bool)
    if len(hit):
        close = np.isin(compare.id_levels(hit["digits_ha"], hit["digits"]), ID_NEAR)
        best = pd.DataFrame({"i": hit["index"].to_numpy(), "lv": np.where(close, MEMBER_NEAR, MEMBER_NAME),
                             "ch": close & ~hit["head"].to_numpy(dtype=bool)}).groupby("i").agg(
            lv=("lv", "min"), ch=("ch", "any"))
        level[best.index.to_numpy()] = best["lv"].to_numpy()
        changed[best.index.to_numpy()] = best["ch"].to_numpy()
    return level, changed


def mutual_best(c: pd.DataFrame, rounds: int = 10) -> pd.DataFrame:
    c = sort_rows(c, ["score", "household_no", "archive_no"], ascending=[False, True, True])
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


def sample_candidates(matched: pd.DataFrame, ps_f: pd.DataFrame, ha_f: pd.DataFrame) -> pd.DataFrame:
    """The ID-matched pairs the model may learn from: one per household, both records in
    one county (so a partition of whole counties holds both), each with a hash of its
    household number; the known sample is the :data:`KNOWN_SAMPLE` smallest hashes,
    which partitions can pick among themselves without anyone holding every pair.

    Whether a household qualifies depends on its own pairs only, so the pairs of the
    households of smallest hash are looked at first (:data:`SAMPLE_LOOK_FIRST` times as
    many households as the sample holds), and all of them only when too few of those
    qualify: the same sample, without joining a million pairs to their counties."""
    pairs = matched[["household_no", "archive_no", "method"]]
    hashes = _sample_hash(pairs["household_no"])
    first = int(KNOWN_SAMPLE * SAMPLE_LOOK_FIRST)
    if KNOWN_SAMPLE and len(pairs) > first:
        distinct = np.unique(hashes)
        if len(distinct) > first:
            # every household hashed at or below the cut, those tied with it too
            few = _qualifying(pairs[hashes <= distinct[first - 1]], ps_f, ha_f)
            if len(few) >= KNOWN_SAMPLE:
                return known_sample(few)
    return known_sample(_qualifying(pairs, ps_f, ha_f))


# Households whose pairs sample_candidates looks at first, per household of the sample.
# Of a generated million, every ID-matched household has a pair within one county; this
# leaves room for one in five not to before every pair is looked at (the same sample,
# one more join).
SAMPLE_LOOK_FIRST = 1.25


def _sample_hash(household_no: pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(household_no.astype("string"), index=False,
                                      hash_key=SAMPLE_HASH_KEY).to_numpy(np.uint64)


def _qualifying(pairs: pd.DataFrame, ps_f: pd.DataFrame, ha_f: pd.DataFrame) -> pd.DataFrame:
    """One pair per household with both records in one county (an exact-ID pair first,
    then the smallest archive number), with the household's hash."""
    pairs = pairs.merge(ps_f[["household_no", "county_code"]], on="household_no").merge(
        ha_f[["archive_no", "county_code"]], on="archive_no", suffixes=("", "_ha"))
    pairs = pairs[(pairs["county_code"] == pairs["county_code_ha"]).fillna(False).to_numpy(dtype=bool)]
    pairs = sort_rows(pairs.assign(_exact=pairs["method"] != "id_exact"), ["household_no", "_exact", "archive_no"])
    pairs = pairs.drop_duplicates("household_no")[["household_no", "archive_no"]]
    pairs["hash"] = _sample_hash(pairs["household_no"])
    return pairs


def known_sample(cands: pd.DataFrame) -> pd.DataFrame:
    """The :data:`KNOWN_SAMPLE` candidates (``sample_candidates``) of smallest hash."""
    return sort_rows(cands, ["hash", "household_no"]).head(KNOWN_SAMPLE).reset_index(drop=True)


def _known(ps_f, ha_f, roster, matched: pd.DataFrame, max_block: int,
           sample: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Level frames of known pairs (exact matches) and known non-pairs (their block mates)."""
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
    roster: pd.DataFrame   # members of those households and of copy_ps: household_no, name, digits, head, ...
    known: tuple[pd.DataFrame, pd.DataFrame] | None  # level frames of known pairs / non-pairs
    copies: pd.DataFrame | None = None   # matched archives: household_no, county_code, name, village_code, size
    copy_ps: pd.DataFrame | None = None  # features of the PS households those archives matched

    def counties(self) -> pd.Series:
        """Residual records per county (both sides), the partitions' weights."""
        both = pd.concat([self.ps["county_code"], self.ha["county_code"]], ignore_index=True)
        return both.value_counts().sort_index()

    def part(self, counties: list[str]) -> "Residual":
        ps = self.ps[isin(self.ps["county_code"], counties)]
        copies = None if self.copies is None else self.copies[isin(self.copies["county_code"], counties)]
        copy_ps = None if copies is None else self.copy_ps[isin(self.copy_ps["household_no"], copies["household_no"])]
        keep = ps["household_no"] if copy_ps is None else pd.concat([ps["household_no"], copy_ps["household_no"]])
        return Residual(ps, self.ha[isin(self.ha["county_code"], counties)],
                        self.roster[isin(self.roster["household_no"], keep)], None, copies, copy_ps)


def roster_features(members: pd.DataFrame, ps_f: pd.DataFrame) -> pd.DataFrame:
    """Roster members of the given households, with what comparison and blocking need."""
    m = members[isin(members["household_no"], ps_f["household_no"])].dropna(subset=["name"])
    digits = m["id_no"].astype("string").fillna("")
    if "id_no_problem" in m.columns:  # a valid ID is its own digits; only the others are looked at
        bad = ~m["id_no_valid"].to_numpy(dtype=bool)
        digits = digits.copy()
        digits[bad] = compare.id_digits(digits[bad], m.loc[bad, "id_no_problem"])
    name = m["name"].astype("string")
    return pd.DataFrame({"household_no": m["household_no"].astype("string"), "name": name, "digits": digits,
                         "head": (m["relation"].fillna("") == "户主").to_numpy(dtype=bool)})


def _blocking_roster(roster: pd.DataFrame, ps: pd.DataFrame) -> pd.DataFrame:
    """Non-householder members of unmatched households, keyed like the HA features."""
    r = roster[~roster["head"] & isin(roster["household_no"], ps["household_no"])]
    r = r.merge(ps[["household_no", "county_code"]], on="household_no")
    return r.assign(pinyin=pinyin_keys(r["name"]), birth=r["digits"].str[6:14].where(r["digits"].str.len() >= 14))


def residual(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame, matched: pd.DataFrame,
             sample: pd.DataFrame | None = None,
             feats: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Residual:
    """What the ID passes (``matched``) left of these records, and what the model learns
    from. ``sample``: the run's known sample (``known_sample``) where these records are one
    partition of the run; None: these records are the run, the sample is theirs.
    ``feats``: :func:`features` of ``ps`` and ``ha`` where the caller has them already."""
    cfg = load_matching_settings()
    ps_f, ha_f = feats or (features(ps, "household_no"), features(ha, "archive_no"))
    rest_ps = ps_f[~isin(ps_f["household_no"], matched["household_no"])]
    rest_ha = ha_f[~isin(ha_f["archive_no"], matched["archive_no"])]
    # Matched archives that a left-over record could be a second copy of: only those
    # whose name, village and size some left-over record shares (a cheap exact join),
    # matched to a household of their own county (so one county's records decide it).
    keys = ["county_code", "name", "village_code", "size"]
    arch = matched[["household_no", "archive_no"]].merge(ha_f[["archive_no", *keys]], on="archive_no")
    arch = arch.merge(ps_f[["household_no", "county_code"]], on=["household_no", "county_code"])
    arch = arch.dropna(subset=keys).merge(rest_ha[keys].dropna().drop_duplicates(), on=keys)
    copies = sort_rows(arch[["household_no", *keys]].drop_duplicates(), ["household_no", *keys]).reset_index(drop=True)
    copy_ps = ps_f[isin(ps_f["household_no"], copies["household_no"])]
    if sample is None:
        sample = sample_candidates(matched, ps_f, ha_f)
    sample = sample[isin(sample["household_no"], ps_f["household_no"])]
    # The roster of every household compared: the left-over ones, the copies', the known pairs'.
    need = pd.concat([rest_ps["household_no"], copy_ps["household_no"], sample["household_no"]])
    roster = roster_features(members, ps_f[isin(ps_f["household_no"], need)])
    known = None if matched.empty else _known(ps_f, ha_f, roster, matched, cfg["max_block_size"], sample)
    keep = pd.concat([rest_ps["household_no"], copy_ps["household_no"]])
    return Residual(rest_ps, rest_ha, roster[isin(roster["household_no"], keep)], known, copies, copy_ps)


def partition_levels(part: Residual) -> pd.DataFrame:
    """Candidate pairs of one partition with their comparison levels, in key order;
    ``copy`` marks pairs of a left-over record with an already matched household."""
    cfg = load_matching_settings()
    pairs = candidates(part.ps, part.ha, cfg["max_block_size"], _blocking_roster(part.roster, part.ps))
    cand = levels(pairs, part.ps, part.ha, part.roster).assign(copy=False)
    if part.copies is not None and len(part.copies) and len(part.ha):
        keys = ["county_code", "name", "village_code", "size"]
        ha = part.ha[~part.ha["valid"]].dropna(subset=keys)  # a record with a valid ID of its own is someone
        cp = part.copies.merge(ha[["archive_no", *keys]], on=keys)[["household_no", "archive_no"]]
        cp = cp.drop_duplicates().merge(part.copy_ps[["household_no", "digits"]], on="household_no") \
            .merge(part.ha[["archive_no", "digits"]], on="archive_no", suffixes=("_ps", "_ha"))
        slip = compare.id_differences(cp["digits_ps"], cp["digits_ha"]) <= COPY_MAX_DIFFERENCES
        cp = levels(cp[slip | np.isin(compare.id_levels(cp["digits_ps"], cp["digits_ha"]), ID_CLOSE)]
                    [["household_no", "archive_no"]], part.copy_ps, part.ha, part.roster).assign(copy=True)
        cand = pd.concat([cand, cp], ignore_index=True)
    return sort_rows(cand, ["household_no", "archive_no"]).reset_index(drop=True)


def fit_counts(res: Residual, parts: list[pd.DataFrame]) -> FitCounts:
    """What the model is fitted from, counted over these partitions' candidates (copy
    candidates left out: they pair records with households that already have their match)."""
    n_levels = _n_levels()
    # no partition at all (no county left over after the ID passes): the empty candidates
    cand = pd.concat(parts, ignore_index=True) if parts else partition_levels(res)
    if "copy" in cand.columns:
        cand = cand[~cand["copy"].astype(bool)]
    if res.known is None:  # no ID match here to learn m and u from; its candidates still count in EM
        zero = {f: np.zeros(n, dtype=np.int64) for f, n in n_levels.items()}
        return FitCounts(False, zero, zero, pattern_counts(cand, FIELDS))
    return FitCounts(True, level_counts(res.known[0], n_levels), level_counts(res.known[1], n_levels),
                     pattern_counts(cand, FIELDS))


def fit_from_counts(counts: list[FitCounts]) -> FSModel | None:
    """The run's model from every partition's counts; None when no partition had an ID
    match to learn from. Integers add up alike in any order, so any partitioning of the
    run gives this same model."""
    if not any(c.known for c in counts):
        return None
    n_levels = _n_levels()
    total = {side: {f: sum(getattr(c, side)[f] for c in counts) for f in n_levels} for side in ("pairs", "nonpairs")}
    return estimate_from_counts(total["pairs"], total["nonpairs"], add_patterns([c.patterns for c in counts], FIELDS),
                                n_levels, iterations=load_matching_settings()["em_iterations"])


def fit(res: Residual, parts: list[pd.DataFrame]) -> FSModel | None:
    """The Fellegi-Sunter model of this run, from every partition's candidates."""
    return fit_from_counts([fit_counts(res, parts)])


def _n_levels() -> dict[str, int]:
    cfg = load_matching_settings()
    return {f: len(cfg["levels"][f]) for f in FIELDS}


@dataclass
class FitCounts:
    """One partition's share of the model fit (``fit_counts``): small, whatever its size."""
    known: bool                        # the partition had ID matches to learn from (the run: any partition)
    pairs: dict[str, np.ndarray]       # known pairs' rows per level, per field
    nonpairs: dict[str, np.ndarray]    # known non-pairs' rows per level, per field
    patterns: pd.DataFrame             # residual candidates per combination of levels (``n``)


MATCH_COLS = ["household_no", "archive_no", "method", "score", "agreement", "member_name", "weights", "explanation"]
REVIEW_COLS = ["household_no", "archive_no", "score", "agreement", "weights", "explanation"]


def _explained(rows: pd.DataFrame, model: FSModel | None) -> pd.DataFrame:
    rows = rows.copy()
    if model is None or rows.empty:
        rows["weights"], rows["explanation"] = pd.NA, pd.NA
    else:
        rows["explanation"], rows["weights"] = compare.explain(rows, model.field_weights(rows))
    return rows.astype({"weights": "string", "explanation": "string"})


def _drop(c: pd.DataFrame, done: pd.DataFrame) -> pd.DataFrame:
    return c[~isin(c["household_no"], done["household_no"]) & ~isin(c["archive_no"], done["archive_no"])]


def assign(cand: pd.DataFrame, model: FSModel | None) -> ScoredResult:
    """Score one partition's candidates and decide: id_near, member_id, fuzzy, a second
    copy, review or nothing."""
    cfg = load_matching_settings()
    if cand.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else "string") for c in MATCH_COLS})
        return ScoredResult(empty, empty[REVIEW_COLS], model)
    cand = cand.copy()
    if "copy" not in cand.columns:
        cand["copy"] = False
    if model is None:  # nothing to learn from (a tiny re-run): the near-ID rules alone, no scored pass
        cand["score"] = np.where(((cand["id"] <= 1) & (cand["name"] <= 1)) | cand["changed"], NEAR_WITHOUT_MODEL, 0.0)
    else:
        cand["score"] = model.probability(cand)
    cand["agreement"] = compare.describe(cand)
    copies, cand = cand[cand["copy"].astype(bool)], cand[~cand["copy"].astype(bool)]

    near = cand[(cand["id"] <= 1) & (cand["name"] <= 1) & cand["county_same"]]
    near = mutual_best(near).assign(method="id_near")
    # The householder changed and the new one's ID has a typo: found through the roster.
    changed = _drop(cand[cand["changed"] & cand["county_same"] & ~cand["valid_ha"]], near)
    changed = mutual_best(changed).assign(method="member_id")
    # Two valid resident IDs that differ belong to two people: had they been one, the ID
    # passes would have matched them. Only a pair with a broken ID is left to the score.
    broken = ~(cand["valid_ps"] & cand["valid_ha"])
    rest = _drop(cand[broken], pd.concat([near, changed]))
    fuzzy = mutual_best(rest[rest["score"] >= cfg["accept"]]).assign(method="fuzzy")
    done = pd.concat([near, changed, fuzzy], ignore_index=True)
    # Second copies (same name, village and size as an archive the household matched, no
    # valid ID, an ID at most one slip away): one household may hold several records, so
    # no mutual best here; the best-scored household wins a record two could claim.
    second = copies[~isin(copies["archive_no"], done["archive_no"])]
    second = sort_rows(second, ["archive_no", "score", "household_no"], ascending=[True, False, True]) \
        .drop_duplicates("archive_no")
    second = second.assign(method=np.where(second["id"] <= 1, "id_near", "fuzzy"))
    done = pd.concat([done, second], ignore_index=True)
    left = _drop(rest, done)
    review = sort_rows(left[left["score"] >= cfg["review"]], ["score", "archive_no", "household_no"],
                       ascending=[False, True, True]).drop_duplicates("archive_no")
    done = done.assign(member_name=done["member_name"].where(done["method"] == "member_id"))
    return ScoredResult(_explained(done, model)[MATCH_COLS], _explained(review, model)[REVIEW_COLS], model)


def combine(results: list[ScoredResult]) -> ScoredResult:
    """One result from the partitions' results."""
    review = sort_rows(pd.concat([r.review for r in results], ignore_index=True),
                       ["score", "archive_no", "household_no"], ascending=[False, True, True]).reset_index(drop=True)
    return ScoredResult(pd.concat([r.matches for r in results], ignore_index=True), review,
                        results[0].model if results else None)


def match_residual(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame,
                   matched: pd.DataFrame) -> ScoredResult:
    """The scored passes in one partition (what the flow runs partition by partition)."""
    res = residual(ps, ha, members, matched)
    cand = partition_levels(res)
    return combine([assign(cand, fit(res, [cand]))])
