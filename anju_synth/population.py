"""Synthetic people, places and households: the clean latent truth, vectorized.

Everything is drawn from one ``numpy.random.Generator`` so a seed gives the same world.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from stdnum.cn import ric

from schemas.regions import county_table

SURNAMES = list(dict.fromkeys(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"))
GIVEN = list(dict.fromkeys(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力斌宇浩凯鹏飞云峰林婷燕梅琴雪莲志"
    "海波亮春生金龙凤成德福贵荣祥发忠宝山水清元兵松柏兴旺光远方芬丰锋凡繁佳家嘉珍真贞顺舜永勇咏"))
MINORITY = ["阿依古丽·买买提", "热依拉·艾山", "古丽娜尔·吐尔逊", "阿布都·热合曼", "帕提古丽·吾守尔"]
LATEST_BIRTH = pd.Timestamp("2019-12-31")
TOWN_WORDS = list("东西南北中新兴安平和丰乐源清河山石桥坝坪寨溪沟")


@lru_cache(maxsize=1)
def homophones() -> dict[str, list[str]]:
    """Given-name characters -> other pool characters read the same (tones ignored)."""
    from pypinyin import Style, lazy_pinyin

    groups: dict[str, list[str]] = {}
    for ch in GIVEN:
        groups.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    return {ch: [o for o in g if o != ch] for g in groups.values() if len(g) > 1 for ch in g}


def _opencc_characters(name: str) -> dict[str, str]:
    """One of OpenCC's character tables as ``{character: its first (most common) form}``."""
    from importlib import resources

    text = resources.files("opencc").joinpath(f"dictionary/{name}").read_text("utf-8")
    return {p[0]: p[1].split(" ")[0] for p in (ln.split("\t") for ln in text.splitlines())
            if len(p) == 2 and len(p[0]) == 1}


@lru_cache(maxsize=1)
def to_traditional() -> dict[int, str]:
    """Simplified -> traditional for the pool's characters, a ``str.translate`` table.

    The truth says a name written in traditional characters is still the same name, so
    only spellings that fold back unambiguously are used: a character is kept when its
    first traditional form in OpenCC's STCharacters table has it as first simplified
    form in TSCharacters (发 -> 發 -> 发). A character that would fold back to another
    one stays simplified. The reconciliation's own folding is tested against this table
    (tests/synth), never consulted by it.

    >>> "张伟".translate(to_traditional())
    '張偉'
    """
    st, ts = _opencc_characters("STCharacters.txt"), _opencc_characters("TSCharacters.txt")
    return {ord(c): st[c] for c in SURNAMES + GIVEN if c in st and st[c] != c and ts.get(st[c]) == c}


@dataclass
class Geography:
    villages: pd.DataFrame   # village_code, county_code, names of every level


def make_geography(rng: np.random.Generator, n_counties: int) -> Geography:
    table = county_table()
    codes = sorted(c for c in table if c.startswith("52") and c[4:] not in ("00", "01"))
    chosen = sorted(rng.choice(codes, size=min(n_counties, len(codes)), replace=False))
    rows = []
    for county in chosen:
        city = table.get(county[:4] + "00", "")
        for t in range(int(rng.integers(6, 12))):
            town_code = (100 + t) if t % 3 else (200 + t)
            town = "".join(rng.choice(TOWN_WORDS, 2)) + ("镇" if town_code < 200 else "乡")
            for v in range(int(rng.integers(6, 12))):
                rows.append((f"{county}{town_code:03d}{200 + v:03d}", county, "贵州省", city,
                             table[county], town, "".join(rng.choice(TOWN_WORDS, 2)) + "村"))
    cols = ["village_code", "county_code", "province_name", "city_name", "county_name", "town_name",
            "village_name"]
    return Geography(pd.DataFrame(rows, columns=cols).drop_duplicates("village_code").reset_index(drop=True))


def with_check_char(first17: pd.Series) -> pd.Series:
    """17 digits plus their GB 11643 check character (python-stdnum's ``cn.ric``).

    >>> with_check_char(pd.Series(["36042619910101007"], dtype="string")).tolist()
    ['360426199101010071']
    """
    # calc_check_digit reads the 17 digits in front of the check character it is given
    check = list(map(ric.calc_check_digit, (first17 + "0").tolist()))
    return first17 + pd.array(check, dtype="string")


def make_ids(rng: np.random.Generator, county: pd.Series, birth: pd.Series, male: np.ndarray) -> pd.Series:
    """Valid, unique 18-digit IDs; duplicates are redrawn until none is left."""
    n = len(county)
    seq = rng.integers(0, 500, n) * 2 + np.where(male, 1, 0)
    stem = county.astype("string").values + birth.dt.strftime("%Y%m%d").astype("string").values
    ids = pd.Series(stem + pd.Series(seq).map("{:03d}".format).astype("string").values, dtype="string")
    for _ in range(100):
        dup = ids.duplicated(keep="first").to_numpy()
        if not dup.any():
            break
        seq = rng.integers(0, 500, dup.sum()) * 2 + np.where(male[dup], 1, 0)
        ids[dup] = (pd.Series(stem[dup]) + pd.Series(seq).map("{:03d}".format).values).to_numpy()
    else:
        raise RuntimeError("could not draw unique IDs: too many people share a county and birth date")
    return with_check_char(ids)


def _names(rng, n, surname=None) -> pd.Series:
    sur = pd.Series(surname if surname is not None else rng.choice(SURNAMES, n), dtype="string")
    g1 = pd.Series(rng.choice(GIVEN, n), dtype="string")
    g2 = pd.Series(rng.choice(GIVEN, n), dtype="string").where(rng.random(n) < 0.7, "")
    return sur.reset_index(drop=True) + g1 + g2


def make_households(rng: np.random.Generator, n: int, geo: Geography, start: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` clean households and their members (the householder is member 0)."""
    v = geo.villages.iloc[rng.integers(0, len(geo.villages), n)].reset_index(drop=True)
    size = np.clip(rng.poisson(2.6, n) + 1, 1, 8)
    hid = np.arange(start, start + n)
    m_hh = np.repeat(np.arange(n), size)
    pos = np.arange(len(m_hh)) - np.repeat(np.cumsum(size) - size, size)
    head_birth = pd.to_datetime("1940-01-01") + pd.to_timedelta(rng.integers(0, 55 * 365, n), unit="D")
    head_male = rng.random(n) < 0.85
    male = np.where(pos == 0, head_male[m_hh], np.where(pos == 1, ~head_male[m_hh], rng.random(len(m_hh)) < 0.5))
    offset = np.where(pos == 0, 0, np.where(pos == 1, rng.integers(-6 * 365, 6 * 365, len(m_hh)),
                                            rng.integers(20 * 365, 35 * 365, len(m_hh))))
    birth = pd.Series(head_birth[m_hh] + pd.to_timedelta(offset, unit="D"))
    late = (birth > LATEST_BIRTH).to_numpy()  # children of young parents: spread over the last ten years
    birth[late] = LATEST_BIRTH - pd.to_timedelta(rng.integers(0, 3650, late.sum()), unit="D")
    county = v["county_code"].to_numpy()[m_hh]
    ids = make_ids(rng, pd.Series(county), birth, male)
    head_sur = pd.Series(rng.choice(SURNAMES, n))
    sur = np.where(pos == 1, rng.choice(SURNAMES, len(m_hh)), head_sur.to_numpy()[m_hh])
    names = _names(rng, len(m_hh), sur)
    minority = (rng.random(len(m_hh)) < 0.004) & (pos == 0)
    names[minority] = rng.choice(MINORITY, int(minority.sum()))
    relation = np.where(pos == 0, "户主", np.where(pos == 1, "配偶", np.where(male, "之子", "之女")))
    members = pd.DataFrame({"hh": hid[m_hh], "pos": pos, "name": names.values, "id_no": ids.values,
                            "relation": relation, "sex": np.where(male, "男", "女")})
    households = v.assign(hh=hid, household_size=size,
                          householder_name=members.loc[pos == 0, "name"].to_numpy(),
                          householder_id=members.loc[pos == 0, "id_no"].to_numpy())
    return households, members
