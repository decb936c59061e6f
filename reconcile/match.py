"""Household matching: PS households x HA archive records.

Passes run most certain first; each removes what it matched from the next one's input.
A pass proposes candidate pairs; :func:`_resolve` keeps, per HA record, the candidate
that agrees on most identity fields (ties broken by household number, never by input
order), so one HA record matches at most one PS household, while a PS household may hold
several HA records (the archive's duplicates of one family).

Pass ``id_exact``: the normalized, valid householder ID is the same.
Pass ``member_id``: the HA householder's ID is a member of a PS household that has no
exact match (the householder changed; reported as HOUSEHOLDER_CHANGED). A household
already matched by its own ID keeps that match: a spouse's own archive record is not
folded into it.
Passes ``id_near`` and ``fuzzy`` (``match_scored.py``): what the ID passes left, county
partition by county partition (``reconcile.pipeline.match`` runs the stages in order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.frames import isin, positions, sort_rows, taken
from reconcile.fs_model import FSModel
from reconcile.match_scored import ScoredResult, match_residual

MATCH_COLUMNS = ["household_no", "archive_no", "county_code", "method", "score", "agreement", "member_name",
                 "weights", "explanation"]
# What the ID passes tell analysts (the scored passes explain themselves field by field).
PASS_EXPLANATION = {"id_exact": "身份证号相同", "member_id": "户主身份证号为该户家庭成员的身份证号(户主变更)",
                    "clerical": "县级人员在台账中核实为同一户"}

# Confidence of each pass: fixed, the ID agrees (the scored passes' scores are the model's probabilities).
PASS_SCORE = {"id_exact": 1.0, "member_id": 0.98, "clerical": 1.0}


# what the ID passes' agreement says, by rank (name 4, village 2, size 1): "id,name,size" for 5
AGREEMENT_TEXT = pd.array([",".join(["id", *(label for bit, label in ((4, "name"), (2, "village"), (1, "size"))
                                             if rank & bit)]) for rank in range(8)], dtype="string")


def _agreement(c: pd.DataFrame, ha_name: str = "ha_name", ps_name: str = "ps_name") -> pd.DataFrame:
    c = c.copy()
    c["agree_name"] = (c[ha_name] == c[ps_name]).fillna(False).astype(bool)
    c["agree_village"] = (c["ha_village"] == c["ps_village"]).fillna(False).astype(bool)
    c["agree_size"] = (c["ha_size"] == c["ps_size"]).fillna(False).astype(bool)
    c["_rank"] = c["agree_name"] * 4 + c["agree_village"] * 2 + c["agree_size"]
    # the rank's three bits say which fields agree: its text is one of eight, taken by rank
    c["agreement"] = pd.Series(AGREEMENT_TEXT.take(c["_rank"].to_numpy(dtype=np.int64)), index=c.index)
    return c


def _resolve(c: pd.DataFrame) -> pd.DataFrame:
    c = sort_rows(c, ["archive_no", "_rank", "household_no"], ascending=[True, False, True])
    return c.drop_duplicates("archive_no", keep="first")


def _ps_side(ps: pd.DataFrame) -> pd.DataFrame:
    return ps.rename(columns={"householder_name": "ps_name", "village_code": "ps_village",
                              "household_size": "ps_size"})[
        ["household_no", "ps_name", "ps_village", "ps_size"]]


def _ha_side(ha: pd.DataFrame) -> pd.DataFrame:
    return ha.rename(columns={"householder_name": "ha_name", "village_code": "ha_village",
                              "household_size": "ha_size"})[
        ["archive_no", "householder_id", "ha_name", "ha_village", "ha_size"]]


def match_id_exact(ps: pd.DataFrame, ha: pd.DataFrame) -> pd.DataFrame:
    left = _ha_side(ha[ha["householder_id_valid"]])
    right = ps.loc[ps["householder_id_valid"], ["householder_id", "household_no"]]
    c = left.merge(right, on="householder_id").merge(_ps_side(ps), on="household_no")
    c = _resolve(_agreement(c))
    c["method"], c["member_name"] = "id_exact", pd.NA
    c["weights"], c["explanation"] = pd.NA, PASS_EXPLANATION["id_exact"]
    return c


def match_member_id(ps: pd.DataFrame, members: pd.DataFrame, ha: pd.DataFrame) -> pd.DataFrame:
    m = members.loc[members["id_no_valid"] & (members["relation"].fillna("") != "户主"),
                    ["household_no", "id_no", "name"]]
    m = m[isin(m["household_no"], ps["household_no"])]
    left = _ha_side(ha[ha["householder_id_valid"]])
    c = left.merge(m, left_on="householder_id", right_on="id_no").merge(_ps_side(ps), on="household_no")
    # The HA householder is a member: compare the HA name with that member's name.
    c = _resolve(_agreement(c, ps_name="name"))
    c["method"], c["member_name"] = "member_id", c["name"]
    c["weights"], c["explanation"] = pd.NA, PASS_EXPLANATION["member_id"]
    return c


@dataclass
class MatchResult:
    matches: pd.DataFrame
    review: pd.DataFrame
    model: FSModel | None = None


def match_households(ps: pd.DataFrame, members: pd.DataFrame | None, ha: pd.DataFrame) -> MatchResult:
    """All matched pairs, one row per matched HA record.

    >>> import pandas as pd
    >>> ps = pd.DataFrame({"household_no": ["H1"], "householder_id": ["X"], "householder_id_valid": [True],
    ...     "householder_id_problem": [None], "householder_name": ["张三"], "village_code": ["1"],
    ...     "county_code": ["1"], "household_size": [3]})
    >>> ha = pd.DataFrame({"archive_no": ["A1", "A2"], "householder_id": ["X", "Y"],
    ...     "householder_id_valid": [True, True], "householder_id_problem": [None, None],
    ...     "householder_name": ["张三", "李四"], "village_code": ["1", "1"], "county_code": ["1", "1"],
    ...     "household_size": [3, 2]})
    >>> r = match_households(ps, None, ha)
    >>> r.matches[["household_no", "archive_no", "method", "agreement"]].values.tolist()
    [['H1', 'A1', 'id_exact', 'id,name,village,size']]
    """
    members = members_or_empty(members)
    by_id = match_by_id(ps, members, ha)
    return finish(ps, by_id, match_residual(ps, ha, members, by_id))


def members_or_empty(members: pd.DataFrame | None) -> pd.DataFrame:
    if members is None or not len(members):
        return pd.DataFrame({"household_no": pd.Series(dtype="string"), "name": pd.Series(dtype="string"),
                             "id_no": pd.Series(dtype="string"), "id_no_valid": pd.Series(dtype=bool),
                             "relation": pd.Series(dtype="string")})
    return members


def match_by_id(ps: pd.DataFrame, members: pd.DataFrame | None, ha: pd.DataFrame) -> pd.DataFrame:
    """The national passes: ``id_exact``, then ``member_id`` (an ID is national: these
    passes cross counties, the scored ones never do)."""
    exact = match_id_exact(ps, ha)
    exact["score"] = PASS_SCORE["id_exact"]
    found = [exact]
    if members is not None and len(members):
        rest_ha = ha[~isin(ha["archive_no"], exact["archive_no"])]
        rest_ps = ps[~isin(ps["household_no"], exact["household_no"])]
        member = match_member_id(rest_ps, members, rest_ha)
        member["score"] = PASS_SCORE["member_id"]
        found.append(member)
    return pd.concat([f for f in found if len(f)], ignore_index=True) if any(len(f) for f in found) \
        else pd.DataFrame(columns=MATCH_COLUMNS)


def finish(ps: pd.DataFrame, by_id: pd.DataFrame, scored: ScoredResult) -> MatchResult:
    """The match table from the ID passes and the scored passes, in key order."""
    cols = [c for c in MATCH_COLUMNS if c != "county_code"]
    out = pd.concat([f[cols] for f in (by_id, scored.matches) if len(f)], ignore_index=True) \
        if len(by_id) or len(scored.matches) else pd.DataFrame(columns=cols)
    out["county_code"] = _county_of(out["household_no"], ps)
    out = out[MATCH_COLUMNS]
    out = out.astype({"household_no": "string", "archive_no": "string", "county_code": "string", "method": "string",
                      "agreement": "string", "member_name": "string", "score": "float64",
                      "weights": "string", "explanation": "string"})
    out = sort_rows(out, ["household_no", "archive_no"]).reset_index(drop=True)
    return MatchResult(out, scored.review.reset_index(drop=True), scored.model)


def _county_of(household_no: pd.Series, ps: pd.DataFrame) -> pd.Series:
    """The county of each household, by one key lookup in the PS records (where a number is
    unique: normalize quarantines a repeated one), on ``household_no``'s index."""
    return taken(ps["county_code"], positions(household_no, ps["household_no"]), household_no.index)


def _pairs(frame: pd.DataFrame) -> pd.Series:
    return frame["household_no"].astype("string") + "\x1f" + frame["archive_no"].astype("string")


def in_pairs(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Whether each row's (``household_no``, ``archive_no``) is one of ``pairs``' (NA never
    is): the pair's text made only for the rows whose archive number is among ``pairs``',
    not for every one of a million matches.

    >>> m = pd.DataFrame({"household_no": ["H1", "H2", None], "archive_no": ["A1", "A2", "A3"]})
    >>> in_pairs(m, pd.DataFrame({"household_no": ["H2", "H9"], "archive_no": ["A2", "A1"]})).tolist()
    [False, True, False]
    """
    hit = isin(frame["archive_no"], pairs["archive_no"])
    if hit.any():
        hit[hit] = isin(_pairs(frame[hit]), _pairs(pairs)).to_numpy()
    return hit


def apply_decisions(ps: pd.DataFrame, ha: pd.DataFrame, result: MatchResult, confirmed: pd.DataFrame,
                    rejected: pd.DataFrame) -> MatchResult:
    """The match with the people's REVIEW_MATCH answers (issue 18): a confirmed pair
    (是否同一户=是) is matched ``clerical`` (score 1.0) while both its records exist, in
    place of any other match of that archive record; a rejected pair (=否) is never
    matched nor asked again. Either leaves the review list.

    >>> m = pd.DataFrame({"household_no": ["H2"], "archive_no": ["A2"], "county_code": ["1"], "method": ["fuzzy"],
    ...     "score": [0.9], "agreement": [None], "member_name": [None], "weights": [None], "explanation": [None]})
    >>> rv = pd.DataFrame({"household_no": ["H1", "H3"], "archive_no": ["A1", "A3"], "score": [0.6, 0.5]})
    >>> ps = pd.DataFrame({"household_no": ["H1", "H2", "H3"], "county_code": ["1"] * 3})
    >>> ha = pd.DataFrame({"archive_no": ["A1", "A2", "A3"]})
    >>> yes = pd.DataFrame({"household_no": ["H1", "H9"], "archive_no": ["A1", "A9"]})
    >>> no = pd.DataFrame({"household_no": ["H2"], "archive_no": ["A2"]})
    >>> r = apply_decisions(ps, ha, MatchResult(m, rv), yes, no)
    >>> r.matches[["household_no", "archive_no", "method", "score"]].values.tolist(), r.review["archive_no"].tolist()
    ([['H1', 'A1', 'clerical', 1.0]], ['A3'])
    """
    yes = confirmed[isin(confirmed["household_no"], ps["household_no"]) & isin(confirmed["archive_no"],
                                                                               ha["archive_no"])]
    yes = yes.drop_duplicates("archive_no", keep="first")
    decided = pd.concat([yes[["household_no", "archive_no"]], rejected[["household_no", "archive_no"]]],
                        ignore_index=True)
    matches = result.matches[~isin(result.matches["archive_no"], yes["archive_no"])
                             & ~in_pairs(result.matches, rejected)]
    review = result.review[~in_pairs(result.review, decided) & ~isin(result.review["archive_no"], yes["archive_no"])]
    clerical = pd.DataFrame({"household_no": yes["household_no"].astype("string"),
                             "archive_no": yes["archive_no"].astype("string"), "method": "clerical",
                             "score": PASS_SCORE["clerical"], "agreement": pd.NA, "member_name": pd.NA,
                             "weights": pd.NA, "explanation": PASS_EXPLANATION["clerical"]})
    clerical["county_code"] = _county_of(clerical["household_no"], ps)
    out = pd.concat([f for f in (matches, clerical[MATCH_COLUMNS]) if len(f)], ignore_index=True) \
        if len(matches) or len(clerical) else matches
    out = out[MATCH_COLUMNS].astype(result.matches[MATCH_COLUMNS].dtypes.to_dict())
    out = sort_rows(out, ["household_no", "archive_no"]).reset_index(drop=True)
    return MatchResult(out, review.reset_index(drop=True), result.model)
