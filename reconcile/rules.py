"""One function per rule of the discrepancy catalog (``schemas/catalog.yaml``), named as
the rule's code in lower case (``HA_MISSING`` -> :func:`ha_missing`).

Each takes the :class:`RuleContext` and returns the hits: a frame with any of
``household_no, archive_no, agency, field, ps_value, ha_value, suggested_value``.
The engine in ``discrepancies.py`` adds everything that is the same for all rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from reconcile.frames import isin
from schemas.config import load_catalog

POOR = "建档立卡贫困户"
RELOCATION = "易地扶贫搬迁"
RENOVATION = "农村危房改造"


# The record columns the rules read from ``RuleContext.pairs`` (as ps_<column>, ha_<column>);
# a rule reading another stops with a KeyError in the tests, where every rule runs.
PAIR_COLUMNS = {
    "ps": ["household_no", "householder_id", "householder_id_valid", "householder_name", "household_size",
           "village_code", "housing_secured", "is_relocated", "dilapidation_grade", "exit_status"],
    "ha": ["archive_no", "householder_id", "householder_id_valid", "householder_name", "household_size",
           "village_code", "target_type", "guarantee_method", "completion_date", "secured", "secured_result",
           "danger_grade", "task_year"],
}


@dataclass
class RuleContext:
    ps: pd.DataFrame
    ha: pd.DataFrame
    members: pd.DataFrame
    matches: pd.DataFrame
    pairs: pd.DataFrame        # matches joined with both records, columns prefixed ps_ / ha_
    review: pd.DataFrame       # candidate pairs in the review band
    as_of: pd.Timestamp
    deadline: pd.Timestamp

    @classmethod
    def build(cls, ps, ha, members, matches, review, as_of: date, deadline: date) -> "RuleContext":
        # the pairs carry the record columns the rules read (PAIR_COLUMNS), not all of them:
        # a million pairs of every column would hold a gigabyte nothing reads
        ps_side, ha_side = ([c for c in PAIR_COLUMNS[side] if c in frame] for side, frame in (("ps", ps), ("ha", ha)))
        pairs = (matches.merge(ps[ps_side].add_prefix("ps_"), left_on="household_no", right_on="ps_household_no")
                 .merge(ha[ha_side].add_prefix("ha_"), left_on="archive_no", right_on="ha_archive_no"))
        return cls(ps, ha, members, matches, pairs, review, pd.Timestamp(as_of), pd.Timestamp(deadline))


def yes_no(s: pd.Series) -> pd.Series:
    return s.astype("boolean").map({True: "是", False: "否"}).astype("string")


def iso(s: pd.Series) -> pd.Series:
    return s.dt.strftime("%Y-%m-%d").astype("string")


def ha_missing(ctx: RuleContext) -> pd.DataFrame:
    ps = ctx.ps[~isin(ctx.ps["household_no"], ctx.matches["household_no"])]
    return pd.DataFrame({"household_no": ps["household_no"], "agency": "ps"})


def ps_missing(ctx: RuleContext) -> pd.DataFrame:
    ha = ctx.ha.loc[(ctx.ha["target_type"] == POOR) & ~isin(ctx.ha["archive_no"], ctx.matches["archive_no"]),
                    ["archive_no"]]
    return pd.DataFrame({"archive_no": ha["archive_no"], "agency": "ha"})


def target_type_conflict(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs[ctx.pairs["ha_target_type"] != POOR]
    return pd.DataFrame({"household_no": p["household_no"], "archive_no": p["archive_no"],
                         "field": "target_type", "ha_value": p["ha_target_type"], "suggested_value": POOR})


def _renovation_proven(p: pd.DataFrame, as_of) -> pd.Series:
    return ((p["ha_guarantee_method"] == RENOVATION) & (p["ha_completion_date"] <= as_of)).fillna(False)


def secured_conflict(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs
    both = p["ps_housing_secured"].notna() & p["ha_secured"].notna()
    p = p[both & (p["ps_housing_secured"] != p["ha_secured"]).fillna(False)]
    # A completed renovation in the archive proves the HA determination.
    proven = _renovation_proven(p, ctx.as_of) & p["ha_secured"].fillna(False)
    return pd.DataFrame({"household_no": p["household_no"], "archive_no": p["archive_no"],
                         "field": "housing_secured", "ps_value": yes_no(p["ps_housing_secured"]),
                         "ha_value": p["ha_secured_result"],
                         "suggested_value": pd.Series("是", index=p.index, dtype="string").where(proven)})


def method_conflict(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs
    ps_rel = p["ps_is_relocated"].fillna(False).astype(bool)
    ha_rel = (p["ha_guarantee_method"] == RELOCATION).fillna(False).astype(bool)
    p = p[ps_rel != ha_rel]
    return pd.DataFrame({"household_no": p["household_no"], "archive_no": p["archive_no"],
                         "field": "is_relocated", "ps_value": yes_no(p["ps_is_relocated"]),
                         "ha_value": p["ha_guarantee_method"]})


def danger_conflict(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs
    p = p[p["ps_dilapidation_grade"].notna() & p["ha_danger_grade"].notna()
          & (p["ps_dilapidation_grade"] != p["ha_danger_grade"]).fillna(False)]
    return pd.DataFrame({"household_no": p["household_no"], "archive_no": p["archive_no"],
                         "field": "danger_grade", "ps_value": p["ps_dilapidation_grade"] + "级",
                         "ha_value": p["ha_danger_grade"] + "级"})


def renovation_overdue(ctx: RuleContext) -> pd.DataFrame:
    ha = ctx.ha
    task = ((ha["target_type"] == POOR) & (ha["guarantee_method"] == RENOVATION)
            & (ha["task_year"] <= ctx.deadline.year)).fillna(False)
    late = (ha["completion_date"] > ctx.deadline).fillna(False)
    missing = ha["completion_date"].isna() & (ctx.as_of > ctx.deadline)
    h = ha[task & (late | missing)]
    return pd.DataFrame({"archive_no": h["archive_no"], "agency": "ha", "field": "completion_date",
                         "ha_value": iso(h["completion_date"]).fillna("")})


def exited_unsecured(ctx: RuleContext) -> pd.DataFrame:
    # the columns first, then the rows: a boolean filter copies every column it is given
    ps = ctx.ps.loc[ctx.ps["exit_status"] == "exited", ["household_no", "housing_secured"]]
    p = ctx.pairs.loc[ctx.pairs["ps_exit_status"] == "exited",
                      ["household_no", "ha_task_year", "ha_completion_date", "ha_secured_result"]]
    unfinished = p["ha_task_year"].notna() & ~(p["ha_completion_date"] <= ctx.as_of).fillna(False)
    ha_evidence = pd.concat([
        pd.DataFrame({"household_no": p.loc[p["ha_secured_result"] == "未保障", "household_no"],
                      "ev": "未保障"}),
        pd.DataFrame({"household_no": p.loc[unfinished, "household_no"], "ev": "改造未竣工"}),
    ])
    ev = (ha_evidence.drop_duplicates().sort_values("ev").groupby("household_no")["ev"]
          .agg("、".join))
    hit = ps[(ps["housing_secured"] == False).fillna(False) | isin(ps["household_no"], ev.index)]  # noqa: E712
    return pd.DataFrame({"household_no": hit["household_no"], "agency": "ps", "field": "housing_secured",
                         "ps_value": yes_no(hit["housing_secured"]),
                         "ha_value": hit["household_no"].map(ev).astype("string")})


def identity_conflict(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs
    # A householder change is its own rule; then the HA name is compared with the member's.
    ps_name = p["member_name"].where(p["method"] == "member_id", p["ps_householder_name"])
    checks = [("householder_name", ps_name, p["ha_householder_name"]),
              ("household_size", p["ps_household_size"], p["ha_household_size"]),
              ("village_code", p["ps_village_code"], p["ha_village_code"])]
    out = []
    for field, a, b in checks:
        diff = a.notna() & b.notna() & (a.astype("string") != b.astype("string")).fillna(False)
        out.append(pd.DataFrame({"household_no": p.loc[diff, "household_no"],
                                 "archive_no": p.loc[diff, "archive_no"], "field": field,
                                 "ps_value": a[diff].astype("string"), "ha_value": b[diff].astype("string")}))
    return pd.concat(out, ignore_index=True)


def invalid_id(ctx: RuleContext) -> pd.DataFrame:
    out = []
    for agency, frame, key, other in (("ps", ctx.ps, "household_no", "ha"), ("ha", ctx.ha, "archive_no", "ps")):
        bad = frame.loc[~frame["householder_id_valid"], [key, "householder_id_problem", "householder_id_raw"]]
        # The other agency's valid ID for the same household, where the pair is known; a pair
        # matched through the roster has two different householders: the HA record's own
        # householder is the matched member, whose roster ID is the one to propose.
        by_member = ctx.pairs["method"] == "member_id"
        same = ctx.pairs.loc[~by_member & ctx.pairs[f"{other}_householder_id_valid"], [key, f"{other}_householder_id"]]
        partner = same.drop_duplicates(key).set_index(key)[f"{other}_householder_id"]
        if agency == "ha":
            partner = pd.concat([partner, _member_ids(
                ctx.pairs.loc[by_member, ["archive_no", "household_no", "member_name"]], ctx.members)])
        suggested = bad[key].map(partner[~partner.index.duplicated()]).astype("string")
        out.append(pd.DataFrame({key: bad[key], "agency": agency, "field": bad["householder_id_problem"],
                                 f"{agency}_value": bad["householder_id_raw"].fillna(""),
                                 "suggested_value": suggested}))
    return pd.concat(out, ignore_index=True)


def _member_ids(pairs: pd.DataFrame, members: pd.DataFrame) -> pd.Series:
    """archive_no -> the valid roster ID of the member a roster-matched HA householder is
    (one member of that name in the household; otherwise no proposal)."""
    # only the pairs' households: the merge then factorizes thousands of keys, not millions
    valid = members[members["id_no_valid"] & isin(members["household_no"], pairs["household_no"])]
    found = pairs[["archive_no", "household_no", "member_name"]].merge(
        valid[["household_no", "name", "id_no"]], left_on=["household_no", "member_name"],
        right_on=["household_no", "name"])
    found = found[~found["archive_no"].duplicated(keep=False)]
    return found.set_index("archive_no")["id_no"]


REPEATED_ID = "_id_repeated"  # where records are one partition of a run: the run's ID passes said which IDs repeat


def duplicate(ctx: RuleContext) -> pd.DataFrame:
    out = []
    for agency, frame, key in (("ps", ctx.ps, "household_no"), ("ha", ctx.ha, "archive_no")):
        # the columns first, then the rows: a boolean filter copies every column it is given
        v = frame.loc[frame["householder_id_valid"], [c for c in (key, "householder_id", REPEATED_ID) if c in frame]]
        repeated = v[REPEATED_ID].to_numpy(dtype=bool) if REPEATED_ID in v \
            else v["householder_id"].duplicated(keep=False)
        d = v.loc[repeated, [key, "householder_id"]]
        out.append(pd.DataFrame({key: d[key], "agency": agency, "field": "householder_id",
                                 f"{agency}_value": d["householder_id"]}))
    return pd.concat(out, ignore_index=True)


def date_anomaly(ctx: RuleContext) -> pd.DataFrame:
    ha = ctx.ha
    s, c, a = ha["start_date"], ha["completion_date"], ha["acceptance_date"]
    # each check's value spelled for the rows it found only (few), not for every record
    checks = [("start_date>completion_date", s > c, lambda h: iso(h["start_date"]) + " > " + iso(h["completion_date"])),
              ("acceptance_date<completion_date", a < c,
               lambda h: iso(h["acceptance_date"]) + " < " + iso(h["completion_date"]))]
    for col in ("start_date", "completion_date", "acceptance_date"):
        checks.append((f"{col}>as_of", ha[col] > ctx.as_of, lambda h, col=col: iso(h[col])))
    out = []
    for f, m, value in checks:
        h = ha.loc[m.fillna(False), ["archive_no", "start_date", "completion_date", "acceptance_date"]]
        out.append(pd.DataFrame({"archive_no": h["archive_no"], "agency": "ha", "field": f, "ha_value": value(h)}))
    return pd.concat(out, ignore_index=True)


def subsidy_missing(ctx: RuleContext) -> pd.DataFrame:
    ha = ctx.ha
    done = (ha["completion_date"] <= ctx.as_of).fillna(False)
    h = ha[done & (ha["subsidy_yuan"].isna() | (ha["subsidy_yuan"] == 0)).fillna(True)]
    return pd.DataFrame({"archive_no": h["archive_no"], "agency": "ha", "field": "subsidy_yuan",
                         "ha_value": h["subsidy_yuan"].astype("string").fillna("")})


def review_match(ctx: RuleContext) -> pd.DataFrame:
    r = ctx.review
    return pd.DataFrame({"household_no": r["household_no"], "archive_no": r["archive_no"],
                         "field": r.get("agreement", pd.Series(dtype="string")),
                         "explanation": r.get("explanation", pd.Series(pd.NA, index=r.index, dtype="string"))})


def householder_changed(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.pairs[ctx.pairs["method"] == "member_id"]
    return pd.DataFrame({"household_no": p["household_no"], "archive_no": p["archive_no"],
                         "field": "householder_name", "ps_value": p["ps_householder_name"],
                         "ha_value": p["ha_householder_name"]})


def _implementations() -> dict:
    """Rule code -> its function: the catalog's code in lower case. A rule of the catalog
    without a function, or a function of that form without a rule, stops the import."""
    catalog = list(load_catalog())
    found = {code: globals().get(code.lower()) for code in catalog}
    missing = sorted(code for code, fn in found.items() if not callable(fn))
    if missing:
        raise ImportError(f"reconcile/rules.py implements no function for catalog rule(s) {', '.join(missing)}")
    return found


RULES = _implementations()
