"""Identity dirt, duplicates, and the ground truth of one synthetic world."""
from __future__ import annotations

import numpy as np
import pandas as pd

from anju_synth import dirt
from anju_synth.scenario import EXPECTED, INVALIDATING, LOST_ID_SHARE, PAIR_RULES, PS_RULES, World


def _id_dirt(frame: pd.DataFrame, mask: pd.Series, kind: str, rng, excel_as_number: bool) -> None:
    ids = frame.loc[mask, "householder_id"].astype("string")
    if not mask.any():
        return
    if kind == "id_spelling":
        frame.loc[mask, "householder_id"] = dirt.id_spelling(ids, rng)
    elif kind == "legacy15":
        frame.loc[mask, "householder_id"] = dirt.id_legacy15(ids)
    elif kind == "id_typo":
        frame.loc[mask, "householder_id"] = dirt.id_typo(ids, rng)
    elif kind == "id_transposition":
        frame.loc[mask, "householder_id"] = dirt.id_transposition(ids, rng)
    elif kind == "id_empty":
        frame.loc[mask, "householder_id"] = ""
    elif kind == "id_excel_rounded":
        frame.loc[mask, "householder_id"] = dirt.id_excel_general(ids)
    elif kind == "id_excel":
        frame.loc[mask, "householder_id"] = dirt.id_excel_number(ids) if excel_as_number else dirt.id_excel_text(ids)


def apply_identity_dirt(world: World, rng: np.random.Generator) -> None:
    ps, ha = world.ps, world.ha
    for frame, who in ((ps, "ps"), (ha, "ha")):
        frame["householder_id"] = frame["householder_id"].astype("object")
        frame["householder_name"] = frame["householder_name"].astype("string")
        for kind in ("id_spelling", "legacy15", *sorted(INVALIDATING - {"householder_changed_typo"})):
            _id_dirt(frame, (frame["identity"] == kind) & (frame["side"] == who), kind, rng, who == "ha")
        names = frame["householder_name"]
        for kind, fn in (("name_traditional", dirt.name_traditional), ("name_spaced", dirt.name_spaced)):
            m = (frame["identity"] == kind) & (frame["side"] == who)
            frame.loc[m, "householder_name"] = fn(names[m])
        m = (frame["identity"] == "name_homophone") & (frame["side"] == who)
        frame.loc[m, "householder_name"] = dirt.name_homophone(names[m], rng)
    minority = ha["householder_name"].str.contains("·", regex=False).fillna(False)
    ha.loc[minority, "householder_name"] = ha.loc[minority, "householder_name"].str.replace("·", "•")

    m = ha["identity"].isin(["householder_changed", "householder_changed_typo"]).to_numpy()
    if m.any():
        mem = world.members
        other = mem[mem["pos"] == 1].set_index("hh")
        ha.loc[m, "householder_name"] = ha.loc[m, "hh"].map(other["name"]).to_numpy()
        ha.loc[m, "householder_id"] = ha.loc[m, "hh"].map(other["id_no"]).to_numpy()
    m = (ha["identity"] == "householder_changed_typo").to_numpy()
    if m.any():  # the new householder's ID entered with one wrong digit
        ha.loc[m, "householder_id"] = dirt.id_typo(ha.loc[m, "householder_id"].astype("string"), rng).to_numpy()
    m = ha["identity"] == "village_recoded"
    seg = 250 + ha.loc[m, "village_code"].str[-3:].astype(int) % 50
    ha.loc[m, "village_code"] = ha.loc[m, "village_code"].str[:-3] + seg.map("{:03d}".format)
    m = ha["identity"] == "size_diff"
    ha.loc[m, "household_size"] = np.where(ha.loc[m, "household_size"] > 1, ha.loc[m, "household_size"] - 1,
                                           ha.loc[m, "household_size"] + 1)


def add_duplicates(world: World, rng: np.random.Generator) -> None:
    ps, ha = world.ps, world.ha
    copies = ha[ha["status"] == "dup_ha"].copy()
    copies["archive_no"] = "DA" + copies["county_code"] + pd.Series(
        np.arange(len(ha) + 1, len(ha) + len(copies) + 1), index=copies.index).map("{:08d}".format)
    copies["status"] = "dup_ha_copy"
    # Half the second copies lost their ID on entry: empty, one wrong digit, or an
    # impossible birth date. Only the first copy then matches by ID (issue 15).
    lost = rng.random(len(copies)) < LOST_ID_SHARE
    how = rng.integers(0, 3, len(copies))
    ids = copies["householder_id"].astype("string")
    dirty = pd.Series(np.select([how == 0, how == 1], ["", dirt.id_typo(ids, rng)], dirt.id_impossible_birth(ids)),
                      index=copies.index, dtype="object")
    copies.loc[lost, "householder_id"] = dirty[lost]
    copies.loc[lost, ["identity", "side"]] = ["dup_lost_id", "ha"]
    world.ha = pd.concat([ha, copies], ignore_index=True)

    copies = ps[ps["status"] == "dup_ps"].copy()
    next_hh = int(max(ps["hh"].max(), ha["hh"].max())) + 1
    new_hh = np.arange(next_hh, next_hh + len(copies))
    mem = world.members
    mcopy = mem[mem["hh"].isin(copies["hh"])].copy()
    mcopy["hh"] = mcopy["hh"].map(dict(zip(copies["hh"], new_hh)))
    copies["hh"] = new_hh
    copies["household_no"] = copies["county_code"] + pd.Series(new_hh + 1, index=copies.index).map("{:010d}".format)
    copies["household_size"] = (copies["household_size"] + 1).clip(upper=20)
    copies["status"] = "dup_ps_copy"
    world.ps = pd.concat([ps, copies], ignore_index=True)
    world.members = pd.concat([mem, mcopy], ignore_index=True)


def derive_truth(world: World) -> None:
    ps, ha = world.ps, world.ha
    hh_no = ps[ps["status"] != "dup_ps_copy"].set_index("hh")["household_no"]
    in_ps = ha[ha["role"] == "ps"]
    world.pairs = pd.DataFrame({"household_no": in_ps["hh"].map(hh_no).values, "archive_no": in_ps["archive_no"].values,
                                "identity": in_ps["identity"].values, "status": in_ps["status"].values})
    pairs = world.pairs
    rows = []

    def add(rule, hhs, archs, agency, kind):
        rows.append(pd.DataFrame({"rule": rule, "household_no": hhs, "archive_no": archs, "agency": agency,
                                  "kind": kind}))

    by_hh = ps.set_index("household_no")
    for kind, rules in EXPECTED.items():
        for rule in rules:
            if rule in PS_RULES:
                add(rule, by_hh.index[by_hh["status"] == kind], pd.NA, "ps", kind)
            elif rule in PAIR_RULES:
                p = pairs[pairs["status"] == kind]
                add(rule, p["household_no"], p["archive_no"], "", kind)
            else:
                add(rule, pd.NA, ha.loc[ha["status"] == kind, "archive_no"], "ha", kind)
    add("PS_MISSING", pd.NA, ha.loc[ha["role"] == "ghost", "archive_no"], "ha", "ps_missing")
    for kind in ("name_homophone", "village_recoded", "size_diff", "householder_changed", "householder_changed_typo"):
        p = pairs[pairs["identity"] == kind]
        add("HOUSEHOLDER_CHANGED" if kind.startswith("householder_changed") else "IDENTITY_CONFLICT",
            p["household_no"], p["archive_no"], "", kind)
    for frame, who, key in ((ps, "ps", "household_no"), (ha, "ha", "archive_no")):
        bad = frame[frame["identity"].isin(INVALIDATING) & (frame["side"] == who)]
        add("INVALID_ID", bad[key] if who == "ps" else pd.NA, bad[key] if who == "ha" else pd.NA, who, bad["identity"])
    lost = ha[ha["identity"] == "dup_lost_id"]
    add("INVALID_ID", pd.NA, lost["archive_no"], "ha", "dup_lost_id")
    # A group whose second copy lost its ID has one valid ID left: no DUPLICATE.
    dup = ha[ha["status"].isin(["dup_ha", "dup_ha_copy"]) & ~ha["hh"].isin(lost["hh"])]
    add("DUPLICATE", pd.NA, dup["archive_no"], "ha", "dup_ha")
    dup = ps[ps["status"].isin(["dup_ps", "dup_ps_copy"])]
    add("DUPLICATE", dup["household_no"], pd.NA, "ps", "dup_ps")
    add("HA_MISSING", ps.loc[ps["status"] == "dup_ps_copy", "household_no"], pd.NA, "ps", "dup_ps")
    exp = pd.concat(rows, ignore_index=True).astype("string")
    world.expected = exp.sort_values(["rule", "household_no", "archive_no"]).reset_index(drop=True)
