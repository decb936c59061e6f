"""Both agencies' exports of one synthetic world, with the dirt and the ground truth.

Every household draws one *housing path* (how its housing was secured), at most one
*status injection* (a problem of the discrepancy catalog) and at most one *identity
dirt* (what makes matching hard). Injections are built so that each triggers exactly the
rules listed in :data:`EXPECTED`, which is what the truth records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from anju_synth import dirt
from anju_synth.population import make_geography, make_households
from schemas.config import load_catalog
from schemas.defaults import DEADLINE, SAMPLE_AS_OF

PATHS = {"safe": 0.55, "renovated": 0.30, "relocated": 0.10, "other": 0.05}
STATUS = {  # kind: (probability, forced path)
    "ha_missing": (0.02, None), "target_type": (0.02, None), "secured_conflict": (0.02, "safe"),
    "method_conflict": (0.02, "safe"), "danger_conflict": (0.02, "renovated"),
    "overdue_late": (0.02, "renovated"), "overdue_open": (0.02, "renovated"),
    "exited_unsecured_a": (0.015, "other"), "exited_unsecured_b": (0.015, "other"),
    "date_start": (0.01, "renovated"), "date_accept": (0.01, "renovated"), "date_future": (0.01, "renovated"),
    "subsidy_missing": (0.02, "renovated"), "dup_ha": (0.015, None), "dup_ps": (0.01, None),
}
IDENTITY = {
    "id_spelling": 0.08, "legacy15": 0.03, "id_typo": 0.03, "id_transposition": 0.03, "id_empty": 0.02,
    "id_excel": 0.03, "name_traditional": 0.03, "name_spaced": 0.02, "name_homophone": 0.03,
    "householder_changed": 0.03, "village_recoded": 0.03, "size_diff": 0.03,
    # issue 15: an ID as Excel's General format shows it (14 digits, rounded); a changed
    # householder whose ID has a typo. (Second archive copies that lost their ID come
    # with the dup_ha status: truth.add_duplicates.)
    "id_excel_rounded": 0.02, "householder_changed_typo": 0.02,
}
INVALIDATING = {"id_typo", "id_transposition", "id_empty", "id_excel", "id_excel_rounded", "householder_changed_typo"}
LOST_ID_SHARE = 0.5  # of the archive's second copies, those whose ID was lost (empty, typo, impossible date)
# Rules each status injection triggers, keyed by what the rule row carries.
EXPECTED = {
    "ha_missing": ["HA_MISSING"], "target_type": ["TARGET_TYPE_CONFLICT"],
    "secured_conflict": ["SECURED_CONFLICT"], "method_conflict": ["METHOD_CONFLICT"],
    "danger_conflict": ["DANGER_CONFLICT"], "overdue_late": ["RENOVATION_OVERDUE"],
    "overdue_open": ["RENOVATION_OVERDUE"], "exited_unsecured_a": ["EXITED_UNSECURED"],
    "exited_unsecured_b": ["EXITED_UNSECURED", "SECURED_CONFLICT"], "date_start": ["DATE_ANOMALY"],
    "date_accept": ["DATE_ANOMALY"], "date_future": ["DATE_ANOMALY"], "subsidy_missing": ["SUBSIDY_MISSING"],
}
# Which records a rule's hits name (the catalog's `record`): how the truth keys each hit.
PAIR_RULES = {code for code, spec in load_catalog().items() if spec.record == "pair"}
PS_RULES = {code for code, spec in load_catalog().items() if spec.record == "ps"}


@dataclass
class World:
    """Canonical-named latent frames plus the truth; ``anju_synth.layout`` renders them."""
    ps: pd.DataFrame
    members: pd.DataFrame
    ha: pd.DataFrame
    pairs: pd.DataFrame
    expected: pd.DataFrame
    meta: dict = field(default_factory=dict)


def _pick(rng, options: dict, n: int, rest: str) -> np.ndarray:
    names = list(options) + [rest]
    p = [v if not isinstance(v, tuple) else v[0] for v in options.values()]
    return rng.choice(names, size=n, p=p + [1 - sum(p)])


def _days(rng, lo, hi, n):
    return pd.to_timedelta(rng.integers(lo, hi + 1, n), unit="D")


def _housing(rng, hh: pd.DataFrame, path: np.ndarray, deadline: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    """Clean HA determination and renovation facts for each household's path."""
    n = len(hh)
    grade = rng.choice(["C", "D"], n)
    h = pd.DataFrame(index=hh.index)
    h["guarantee_method"] = np.select(
        [path == "safe", path == "renovated", path == "relocated"], ["原住房鉴定安全", "农村危房改造", "易地扶贫搬迁"],
        rng.choice(["农村集体公租房", "幸福大院", "敬老院", "租赁闲置农房", "投亲靠友", "政府补贴租房", "货币补助", "生态移民"], n))
    h["secured_result"] = np.select([path == "safe", path == "other"], ["鉴定安全", rng.choice(["保障安全", "已保障"], n)],
                                    "改造安全")
    h["danger_grade"] = np.select([path == "safe", path == "renovated"], [rng.choice(["A", "B"], n), grade], "")
    h["ps_grade"] = np.where(path == "renovated", grade, "")
    ren = path == "renovated"
    year = np.where(rng.random(n) < 0.6, 2019, 2020)
    h["task_year"] = pd.array(np.where(ren, year, 0), dtype="Int64").astype("Int64")
    h.loc[~ren, "task_year"] = pd.NA
    h["task_source"] = np.where(ren, np.where(year == 2019, rng.choice(["2019年存量", "2019存量", "年度计划"], n),
                                              rng.choice(["年度计划", "2020年度", "回头看新增"], n)), "")
    h["renovation_mode"] = np.where(ren, rng.choice(["修缮加固", "原址翻建", "拆除重建", "异地非集中新建", "房屋置换"], n), "")
    start = pd.to_datetime(np.where(year == 2019, "2019-03-01", "2020-01-15")) + _days(rng, 0, 90, n)
    completion = (pd.Series(start) + _days(rng, 30, 120, n)).clip(upper=deadline)
    acceptance = (completion + _days(rng, 1, 25, n)).clip(upper=as_of).where(rng.random(n) < 0.9)
    h["start_date"] = pd.Series(start, index=hh.index).where(ren)
    h["completion_date"] = completion.set_axis(hh.index).where(ren)
    h["acceptance_date"] = acceptance.set_axis(hh.index).where(ren)
    h["subsidy_yuan"] = pd.Series(rng.integers(8, 40, n) * 1000.0, index=hh.index).where(ren)
    return h


def build_world(n: int, seed: int, as_of: date = SAMPLE_AS_OF, deadline: date = DEADLINE) -> World:
    rng = np.random.default_rng(seed)
    as_of_ts, dl = pd.Timestamp(as_of), pd.Timestamp(deadline)
    if as_of_ts < dl + pd.Timedelta(days=30):
        raise ValueError("the generator's truth holds for as_of at least 30 days after the deadline")
    geo = make_geography(rng, max(2, n // 15000 + 1))
    n_ghost, n_other = max(1, int(n * 0.015)), max(1, int(n * 0.05))
    hh, mem = make_households(rng, n + n_ghost + n_other, geo)
    hh["household_no"] = hh["county_code"] + pd.Series(hh["hh"] + 1).map("{:010d}".format)
    role = np.array(["ps"] * n + ["ghost"] * n_ghost + ["other"] * n_other)

    status = np.where(role == "ps", _pick(rng, STATUS, len(hh), "clean"), "clean")
    path = _pick(rng, PATHS, len(hh), "safe")[: len(hh)]
    path = np.where(path == "safe", "safe", path)
    for kind, (_, forced) in STATUS.items():
        if forced:
            path = np.where(status == kind, forced, path)
    ident = np.where(role == "ps", _pick(rng, IDENTITY, len(hh), "clean"), "clean")
    ident = np.where(np.isin(status, ["dup_ha", "dup_ps"]), "clean", ident)
    names = hh["householder_name"].astype("string")
    ident = np.where(np.isin(ident, ["householder_changed", "householder_changed_typo"]) & (hh["household_size"] < 2),
                     "clean", ident)
    ident = np.where((ident == "name_homophone") & ~dirt.can_homophone(names), "clean", ident)
    ident = np.where((ident == "name_traditional") & ~dirt.can_traditional(names), "clean", ident)
    ident = np.where(np.isin(ident, ["id_excel", "id_excel_rounded"]) & hh["householder_id"].str.endswith("X"),
                     "clean", ident)
    side = np.where(rng.random(len(hh)) < 0.5, "ps", "ha")
    side = np.where(status == "ha_missing", "ps", side)
    side = np.where(np.isin(ident, ["householder_changed", "village_recoded", "size_diff", "id_excel_rounded",
                                    "householder_changed_typo"]), "ha", side)
    side = np.where(ident == "id_excel", np.where(rng.random(len(hh)) < 0.7, "ha", "ps"), side)
    side = np.where(ident == "clean", "", side)

    # --- PS households -------------------------------------------------------------
    housing = _housing(rng, hh, path, dl, as_of_ts)
    ps = hh[role == "ps"].copy()
    sel = role == "ps"
    st = status[sel]
    exited = rng.random(len(ps)) < 0.85
    exited = np.where(np.isin(st, ["secured_conflict", "overdue_open"]), False, exited)
    exited = np.where(np.isin(st, ["exited_unsecured_a", "exited_unsecured_b"]), True, exited)
    ps["exit_status"] = np.where(exited, "exited", "not_exited")
    ps["identified_year"] = rng.integers(2014, 2020, len(ps))
    exit_year = np.clip(np.maximum(ps["identified_year"] + rng.integers(1, 4, len(ps)), 2016), None, 2020)
    ps["exit_year"] = pd.array(np.where(exited, exit_year, 0), dtype="Int64")
    ps.loc[~exited, "exit_year"] = pd.NA
    ps["poverty_attribute"] = rng.choice(["一般贫困户", "低保贫困户", "特困供养贫困户"], len(ps), p=[0.7, 0.25, 0.05])
    ps["housing_secured"] = ~np.isin(st, ["secured_conflict", "overdue_open", "exited_unsecured_a"])
    ps["is_relocated"] = (path[sel] == "relocated") | (st == "method_conflict")
    ps["is_dilapidated"] = path[sel] == "renovated"
    ps["dilapidation_grade"] = housing.loc[ps.index, "ps_grade"]
    ps["phone"] = pd.Series(rng.integers(13000000000, 19999999999, len(ps)), index=ps.index).astype("string")
    ps["status"], ps["identity"], ps["side"] = st, ident[sel], side[sel]

    # --- HA archive records ------------------------------------------------------------
    has_ha = (role != "ps") | (status != "ha_missing")
    ha = hh[has_ha].join(housing.drop(columns="ps_grade"))
    ha["target_type"] = np.where(role[has_ha] == "other",
                                 rng.choice(["低保户", "农村分散供养特困人员", "贫困残疾人家庭"], has_ha.sum()), "建档立卡贫困户")
    hst = status[has_ha]
    ha.loc[hst == "target_type", "target_type"] = "低保户"
    ha.loc[np.isin(hst, ["exited_unsecured_a", "exited_unsecured_b"]), ["guarantee_method", "secured_result"]] = ["其他", "未保障"]
    swap = hst == "danger_conflict"
    ha.loc[swap, "danger_grade"] = ha.loc[swap, "danger_grade"].map({"C": "D", "D": "C"})
    for kind in ("overdue_late", "overdue_open"):
        m = hst == kind
        ha.loc[m, "task_year"] = 2020
        ha.loc[m, "start_date"] = pd.Timestamp("2020-03-01") + _days(rng, 0, 60, m.sum())
        ha.loc[m, "acceptance_date"] = pd.NaT
    m = hst == "overdue_late"
    ha.loc[m, "completion_date"] = dl + _days(rng, 1, (as_of_ts - dl).days - 1, m.sum())
    m = hst == "overdue_open"
    ha.loc[m, ["completion_date"]] = pd.NaT
    ha.loc[m, "subsidy_yuan"] = np.nan
    ha.loc[m, "secured_result"] = "未保障"
    m = hst == "date_start"
    ha.loc[m, "start_date"] = ha.loc[m, "completion_date"] + _days(rng, 1, 20, m.sum())
    m = hst == "date_accept"
    ha.loc[m, "acceptance_date"] = ha.loc[m, "completion_date"] - _days(rng, 1, 20, m.sum())
    m = hst == "date_future"
    ha.loc[m, "acceptance_date"] = as_of_ts + _days(rng, 1, 60, m.sum())
    m = hst == "subsidy_missing"
    ha.loc[m, "subsidy_yuan"] = np.where(rng.random(m.sum()) < 0.5, 0.0, np.nan)
    order = rng.permutation(len(ha))  # archive numbers do not follow PS order
    ha["archive_no"] = "DA" + ha["county_code"] + pd.Series(order + 1, index=ha.index).map("{:08d}".format)
    ha["status"], ha["identity"], ha["side"], ha["role"] = hst, ident[has_ha], side[has_ha], role[has_ha]

    world = World(ps=ps, members=mem[mem["hh"].isin(ps["hh"])].copy(), ha=ha, pairs=pd.DataFrame(),
                  expected=pd.DataFrame(), meta={"seed": seed, "households": n, "as_of": str(as_of),
                                                  "deadline": str(deadline)})
    from anju_synth.truth import apply_identity_dirt, add_duplicates, derive_truth

    apply_identity_dirt(world, rng)
    add_duplicates(world, rng)
    derive_truth(world)
    return world
