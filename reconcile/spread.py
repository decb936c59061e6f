"""A run cut into partitions of whole counties, with the national steps as exchanges.

Each stage below runs on one partition (or on one bucket of hashed keys) and returns
what it sends: ``{destination: {name: frame}}``. Whoever drives the stages
(``reconcile.spread_plan``) delivers those frames, in memory or through files, to the
next stage; no step needs every record of the run in one place. What crosses partitions:

- keys that must be unique in the whole source (a repeated ``household_no``), hashed
  into buckets: the first row of the whole source keeps its key;
- records to the partition that owns their county; roster members to their household's
  partition (hashed by ``household_no``; a member of no usable household is an orphan);
- the national ID passes (``id_exact``, then ``member_id``), hashed by the ID, and which
  IDs repeat (the DUPLICATE rule): the same functions the single process runs, on a
  bucket's records;
- an archive record matched by ID to a household of another partition moves there for
  the rules and the unified table (the pair's rules need both records);
- the model's counts (``match_scored.FitCounts``) and the known sample: small;
- discrepancies to the partition that owns their county, for the ledger, and back.

Rows keep their input row number (``_row``) and are put back in that order, so every
partition computes exactly what the single process computes for its records.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.frames import isin
from reconcile.match import match_id_exact, match_member_id
from reconcile.parse import key_text
from reconcile.rules import REPEATED_ID

Outbox = dict[int, dict[str, pd.DataFrame]]
BUCKET_HASH_KEY = "anju-spread-key!"  # 16 bytes, as pandas asks; changing it moves keys between buckets only
KEYED = {"ps_households": "household_no", "ha_archive": "archive_no"}
PS_ID = ["household_no", "householder_id", "householder_name", "village_code", "household_size", "_row"]
HA_ID = ["archive_no", "householder_id", "householder_name", "village_code", "household_size", "_row"]
MEMBER_ID = ["household_no", "id_no", "name", "relation", "_row"]


def buckets(values: pd.Series, n: int) -> np.ndarray:
    """Bucket of each value, ``0..n-1``, the same in every process (a keyed hash, not Python's).

    >>> b = buckets(pd.Series(["520628", "520628", "522222"]), 4).tolist()
    >>> b[0] == b[1] == buckets(pd.Series(["520628"]), 4).tolist()[0] and set(b) <= {0, 1, 2, 3}
    True
    """
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    h = pd.util.hash_pandas_object(values.astype("string").fillna(""), index=False, hash_key=BUCKET_HASH_KEY)
    return (h.to_numpy(np.uint64) % np.uint64(n)).astype(np.int64)


def send(outbox: Outbox, name: str, frame: pd.DataFrame, to: np.ndarray | pd.Series) -> Outbox:
    """Add ``frame``'s rows to ``outbox`` under ``name``, each row to its destination ``to``."""
    to = np.asarray(to, dtype=np.int64)
    for dest in np.unique(to):
        box = outbox.setdefault(int(dest), {})
        rows = frame[to == dest]
        box[name] = pd.concat([box[name], rows], ignore_index=True) if name in box else rows
    return outbox


def gather(inbox: list[dict[str, pd.DataFrame]], name: str, like: pd.DataFrame | None = None,
           order: str | None = "_row") -> pd.DataFrame:
    """Every sender's ``name`` frame as one, in ``order`` (the input's own row order)."""
    found = [m[name] for m in inbox if name in m and len(m[name])]
    if not found:
        return like.iloc[0:0] if like is not None else pd.DataFrame()
    out = pd.concat(found, ignore_index=True)
    return out.sort_values(order, kind="stable", ignore_index=True) if order else out


# --- 1. keys that must be unique in the whole source -------------------------------------------------

def key_probe(raw: dict[str, pd.DataFrame], specs, part: int, n: int) -> Outbox:
    """This partition's keys, as the parser reads them, to their buckets."""
    out: Outbox = {}
    for source, frame in raw.items():
        key = specs[source].key
        if not key or key not in frame:
            continue
        keys = pd.DataFrame({"key": key_text(frame[key]), "_row": frame["_row"].astype("int64"), "part": part})
        send(out, source, keys, buckets(keys["key"], n))
    return out


def repeated_keys(inbox: list[dict[str, pd.DataFrame]]) -> Outbox:
    """Per source, the rows whose key an earlier row of the whole source has, back to
    the partition that read them (``parse_source``'s "repeats an earlier row")."""
    out: Outbox = {}
    for source in sorted({name for m in inbox for name in m}):
        keys = gather(inbox, source)
        if not len(keys):
            continue
        rep = keys[keys["key"].notna() & keys["key"].duplicated(keep="first")]
        send(out, source, rep[["_row"]], rep["part"])
    return out


def repeated_flags(raw: dict[str, pd.DataFrame], inbox: list[dict[str, pd.DataFrame]]) -> dict[str, pd.Series]:
    """``parse_sources``'s ``repeated``: per keyed source, a flag on each raw row."""
    return {source: pd.Series(isin(frame["_row"].astype("string"),
                                   gather(inbox, source, order=None).get("_row", pd.Series(dtype="int64"))
                                   .astype("string")).to_numpy(), index=frame.index)
            for source, frame in raw.items() if source in KEYED}


# --- 2. records to their county's partition, members to their household's -----------------------------

def county_owners(groups: list[list[str]], seen: list[pd.Series]) -> dict[str, int]:
    """Which partition owns each county: the one whose group names it; a county no group
    names (a record filed with another county's) goes to the first partition that read it.

    >>> county_owners([["520101"], ["520102"]], [pd.Series({"520101": 3, "520999": 1}), pd.Series({"520999": 2})])
    {'520101': 0, '520102': 1, '520999': 0}
    """
    owners = {c: i for i, group in enumerate(groups) for c in group}
    for i, counts in enumerate(seen):
        for county in sorted(counts.index.astype(str)):
            owners.setdefault(county, i)
    return dict(sorted(owners.items()))


def county_counts(ps: pd.DataFrame, ha: pd.DataFrame) -> pd.Series:
    """Records per county in a partition (what ``county_owners`` is told)."""
    both = pd.concat([ps["county_code"], ha["county_code"]], ignore_index=True).dropna()
    return both.value_counts().sort_index()


def owner_of(county: pd.Series, owners: dict[str, int], fallback: int) -> np.ndarray:
    return county.astype("string").map(owners).fillna(fallback).to_numpy(dtype=np.int64)


def send_records(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame, owners: dict[str, int], part: int,
                 n_buckets: int) -> tuple[Outbox, Outbox]:
    """(records to their owners, households and members to the buckets of ``household_no``)."""
    to_owner: Outbox = {}
    send(to_owner, "ps", ps, owner_of(ps["county_code"], owners, part))
    send(to_owner, "ha", ha, owner_of(ha["county_code"], owners, part))
    homes = pd.DataFrame({"household_no": ps["household_no"],
                          "owner": owner_of(ps["county_code"], owners, part)})
    to_bucket: Outbox = {}
    send(to_bucket, "homes", homes, buckets(homes["household_no"], n_buckets))
    send(to_bucket, "members", members.assign(_from=part), buckets(members["household_no"], n_buckets))
    return to_owner, to_bucket


def members_home(inbox: list[dict[str, pd.DataFrame]]) -> Outbox:
    """Each member to its household's partition; an orphan back to the partition that read it."""
    homes = gather(inbox, "homes", order=None)
    members = gather(inbox, "members")
    if not len(members):
        return {}
    owner = members["household_no"].map(homes.set_index("household_no")["owner"]) if len(homes) \
        else pd.Series(np.nan, index=members.index)
    orphan = owner.isna().to_numpy()
    out: Outbox = {}
    send(out, "members", members[~orphan].drop(columns="_from"), owner[~orphan].to_numpy())
    send(out, "orphans", members[orphan].drop(columns="_from"), members.loc[orphan, "_from"])
    return out


# --- 3. the national ID passes -----------------------------------------------------------------------

def id_probe(ps: pd.DataFrame, ha: pd.DataFrame, part: int, n: int) -> Outbox:
    """Valid householder IDs of both sides to the buckets of the ID."""
    out: Outbox = {}
    p = ps.loc[ps["householder_id_valid"], PS_ID].assign(part=part)
    h = ha.loc[ha["householder_id_valid"], HA_ID].assign(part=part)
    send(out, "ps", p, buckets(p["householder_id"], n))
    send(out, "ha", h, buckets(h["householder_id"], n))
    return out


def _ends(pairs: pd.DataFrame, ps: pd.DataFrame, ha: pd.DataFrame) -> pd.DataFrame:
    ps_part = pairs["household_no"].map(ps.drop_duplicates("household_no").set_index("household_no")["part"])
    ha_part = pairs["archive_no"].map(ha.drop_duplicates("archive_no").set_index("archive_no")["part"])
    return pairs.assign(ps_part=ps_part.astype("int64"), ha_part=ha_part.astype("int64"))


def _to_both_ends(out: Outbox, name: str, pairs: pd.DataFrame) -> Outbox:
    send(out, name, pairs, pairs["ps_part"])
    other = pairs[pairs["ha_part"] != pairs["ps_part"]]
    return send(out, name, other, other["ha_part"])


def exact_in_bucket(inbox: list[dict[str, pd.DataFrame]], score: float) -> Outbox:
    """``id_exact`` over one bucket's IDs (every record of an ID is in its bucket), and
    the records whose ID repeats on their own side; each to the partitions concerned."""
    ps, ha = gather(inbox, "ps"), gather(inbox, "ha")
    out: Outbox = {}
    for name, frame, key in (("repeated_ps", ps, "household_no"), ("repeated_ha", ha, "archive_no")):
        if len(frame):
            rep = frame[frame["householder_id"].duplicated(keep=False)]
            send(out, name, rep[[key]], rep["part"])
    if not len(ps) or not len(ha):
        return out
    exact = match_id_exact(ps.assign(householder_id_valid=True), ha.assign(householder_id_valid=True))
    return _to_both_ends(out, "exact", _ends(exact.assign(score=score), ps, ha))


def member_probe(ps: pd.DataFrame, ha: pd.DataFrame, members: pd.DataFrame, exact: pd.DataFrame, part: int,
                 n: int) -> Outbox:
    """What the ``member_id`` pass compares, to the buckets of the ID: the archive records
    no exact match took, and the roster IDs of households no exact match took."""
    rest_ps = ps[~isin(ps["household_no"], exact["household_no"])]
    m = members[members["id_no_valid"] & (members["relation"].fillna("") != "户主")
                & isin(members["household_no"], rest_ps["household_no"])]
    m = m[MEMBER_ID].assign(id_no_valid=True, part=part).merge(
        rest_ps[PS_ID].drop(columns=["householder_id", "_row"]), on="household_no")
    h = ha[ha["householder_id_valid"] & ~isin(ha["archive_no"], exact["archive_no"])][HA_ID].assign(part=part)
    out: Outbox = {}
    send(out, "members", m, buckets(m["id_no"], n))
    return send(out, "ha", h, buckets(h["householder_id"], n))


def member_in_bucket(inbox: list[dict[str, pd.DataFrame]], score: float) -> Outbox:
    """``member_id`` over one bucket: HA householders who are a member of another household."""
    m, ha = gather(inbox, "members"), gather(inbox, "ha")
    if not len(m) or not len(ha):
        return {}
    ps = m.drop_duplicates("household_no")[["household_no", "householder_name", "village_code", "household_size",
                                            "part"]]
    found = match_member_id(ps, m, ha.assign(householder_id_valid=True))
    return _to_both_ends({}, "member", _ends(found.assign(score=score), ps, ha))


def flag_repeated(frame: pd.DataFrame, key: str, repeated: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the DUPLICATE rule's flag: its ID repeats somewhere in the run."""
    return frame.assign(**{REPEATED_ID: isin(frame[key], repeated.get(key, pd.Series(dtype="string")))})


# --- 4. the model's known sample: the smallest hashes of the whole run, without gathering it ----------

@dataclass(frozen=True)
class SampleCut:
    """Which of a partition's sample candidates (``match_scored.sample_candidates``) are in
    the run's known sample: hashes below ``threshold``, and at it the households ``ties``
    names (None: every one); no threshold: every candidate (the run has fewer than asked)."""
    threshold: int | None = None
    ties: tuple[str, ...] | None = None
    need_ties: int = 0   # > 0: more candidates share the threshold than the sample takes

    def select(self, cands: pd.DataFrame) -> pd.DataFrame:
        if self.threshold is None:
            return cands
        h = cands["hash"].to_numpy(np.uint64)
        at = h == np.uint64(self.threshold)
        if self.ties is not None:
            at &= isin(cands["household_no"], list(self.ties)).to_numpy()
        return cands[(h < np.uint64(self.threshold)) | at]


def sample_cut(hashes: list[np.ndarray], size: int) -> SampleCut:
    """The cut that keeps the ``size`` smallest of every partition's smallest hashes.

    >>> sample_cut([np.array([5, 1], dtype=np.uint64), np.array([3], dtype=np.uint64)], 2)
    SampleCut(threshold=3, ties=None, need_ties=0)
    """
    every = np.concatenate([np.asarray(h, dtype=np.uint64) for h in hashes]) if hashes else np.zeros(0, np.uint64)
    if len(every) <= size:
        return SampleCut()
    t = np.partition(every, size - 1)[size - 1]
    need = size - int((every < t).sum())
    return SampleCut(int(t), None, need if int((every == t).sum()) > need else 0)


# --- 5. archives matched across partitions move to their household's ---------------------------------

def send_matched_away(ha: pd.DataFrame, by_id: pd.DataFrame, part: int) -> tuple[pd.DataFrame, Outbox]:
    """(the archive records that stay, those matched by ID to another partition's household
    sent to it)."""
    away = by_id[(by_id["ha_part"] == part) & (by_id["ps_part"] != part)].drop_duplicates("archive_no")
    dest = ha["archive_no"].map(away.set_index("archive_no")["ps_part"])
    moving = dest.notna().to_numpy()
    return ha[~moving], send({}, "ha", ha[moving], dest[moving].to_numpy())


# --- 6. the ledger: discrepancies to the partition owning their county, and back ---------------------

def send_discrepancies(disc: pd.DataFrame, owners: dict[str, int], part: int) -> Outbox:
    return send({}, "disc", disc.assign(_from=part), owner_of(disc["county_code"], owners, part))


def send_back(annotated: pd.DataFrame) -> Outbox:
    return send({}, "disc", annotated.drop(columns="_from"), annotated["_from"])


def _ids(frame: pd.DataFrame, part: int) -> pd.DataFrame:
    ids = frame["discrepancy_id"] if "discrepancy_id" in frame else pd.Series(dtype="string")
    return pd.DataFrame({"discrepancy_id": ids.astype("string"), "part": part}).drop_duplicates("discrepancy_id")


def ledger_probe(disc: pd.DataFrame, earlier: pd.DataFrame, today: pd.DataFrame, part: int, n: int) -> Outbox:
    """The items this partition sees now and those its counties' ledgers hold, to the
    buckets of the item id: an item whose county changed since is held by one partition
    and seen by another."""
    out: Outbox = {}
    for name, frame in (("seen", disc), ("earlier", earlier), ("today", today)):
        ids = _ids(frame, part)
        send(out, name, ids, buckets(ids["discrepancy_id"], n))
    return out


def ledger_owners(inbox: list[dict[str, pd.DataFrame]]) -> Outbox:
    """Per item, which partition tracks it: the one that sees it now, else the one holding
    its earlier date's entry, else the one holding today's; every other holder hands its
    entry over (so each item is tracked once, with all its history, as in one process)."""
    seen, earlier, today = (gather(inbox, name, order=None) for name in ("seen", "earlier", "today"))
    held = [f for f in (earlier, today) if len(f)]
    if not held:
        return {}
    target = pd.concat([f for f in (seen, earlier, today) if len(f)], ignore_index=True) \
        .drop_duplicates("discrepancy_id").set_index("discrepancy_id")["part"]
    holders = pd.concat(held, ignore_index=True).drop_duplicates()
    holders["to"] = holders["discrepancy_id"].map(target).astype("int64")
    away = holders[holders["to"] != holders["part"]]
    return send({}, "handover", away[["discrepancy_id", "to"]], away["part"])


def hand_over(earlier: pd.DataFrame, today: pd.DataFrame, handover: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                        Outbox]:
    """(earlier and today's entries this partition keeps, those it hands over sent on)."""
    to = handover.set_index("discrepancy_id")["to"] if len(handover) else pd.Series(dtype="int64")
    out: Outbox = {}
    kept = []
    for name, frame in (("earlier", earlier), ("today", today)):
        if not len(frame) or not len(to):
            kept.append(frame)
            continue
        dest = frame["discrepancy_id"].astype("string").map(to)
        away = dest.notna().to_numpy()
        send(out, name, frame[away], dest[away].to_numpy())
        kept.append(frame[~away])
    return kept[0], kept[1], out
