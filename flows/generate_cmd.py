"""``anju generate --months 2020-07:2021-01``: monthly snapshots of one world whose
households evolve (``anju_synth.evolve``), with the truth of every alert.

Each month's exports go to ``OUT/YYYY-MM/`` as of the month's last day, its alerts' truth
to ``OUT/YYYY-MM/truth/alerts.csv``. The first month is the generator's world, with its
full truth (pairs, discrepancies); later months change only what the evolution events
say, and their truth is the alerts'. The world's truth holds from 30 days after the
deadline on (``build_world``): the first month must end on or after 2020-07-30.
"""
from __future__ import annotations

import calendar
import json
import re
from datetime import date
from pathlib import Path

from anju_synth import build_world, render
from anju_synth.evolve import evolve_months
from anju_synth.layout import write_exports, write_world
from schemas.defaults import DEADLINE

MONTHS = re.compile(r"^(\d{4})-(\d{2}):(\d{4})-(\d{2})$")


def month_ends(spec: str) -> list[date]:
    """``"2020-07:2020-09"`` -> the last day of each month from the first to the last.

    >>> month_ends("2020-11:2021-01")
    [datetime.date(2020, 11, 30), datetime.date(2020, 12, 31), datetime.date(2021, 1, 31)]
    """
    m = MONTHS.match(spec.strip())
    if not m or not (1 <= int(m[2]) <= 12 and 1 <= int(m[4]) <= 12):
        raise ValueError(f"--months {spec!r}: expected FIRST:LAST as YYYY-MM:YYYY-MM, e.g. 2020-07:2021-01")
    first, last = int(m[1]) * 12 + int(m[2]) - 1, int(m[3]) * 12 + int(m[4]) - 1
    if last <= first:
        raise ValueError(f"--months {spec!r}: the last month must come after the first (two months at least)")
    out = []
    for k in range(first, last + 1):
        year, month = divmod(k, 12)
        out.append(date(year, month + 1, calendar.monthrange(year, month + 1)[1]))
    return out


def generate_months(households: int, seed: int, months: list[date], fmt: str, out: Path) -> dict[str, Path]:
    """Write one folder per month under ``out``; returns month (``YYYY-MM``) -> folder."""
    out = Path(out)
    first_ok = date.fromordinal(DEADLINE.toordinal() + 30)
    if months[0] < first_ok:
        raise ValueError(f"--months: the first month ends {months[0]}, before {first_ok}: the generated world's "
                         f"truth holds from 30 days after the deadline ({DEADLINE}) on; start at "
                         f"{first_ok:%Y-%m} or later")
    world = build_world(households, seed, as_of=months[0])
    folders = {}
    for m in evolve_months(render(world, seed, as_text=(fmt != "native")), months, seed):
        folder = out / f"{m.as_of:%Y-%m}"
        if m.as_of == months[0]:
            write_world(world, folder, seed, fmt)  # the same files `anju generate` writes, with their truth
        else:
            write_exports(m.frames, folder, fmt, m.as_of.isoformat())
            (folder / "truth").mkdir(exist_ok=True)
            (folder / "truth" / "world.json").write_text(json.dumps(
                {"seed": seed, "households": households, "as_of": m.as_of.isoformat(), "format": fmt,
                 "evolved_from": months[0].isoformat(), "rows": {k: len(v) for k, v in m.frames.items()}},
                ensure_ascii=False, indent=2), encoding="utf-8")
        m.truth.to_csv(folder / "truth" / "alerts.csv", index=False)
        folders[f"{m.as_of:%Y-%m}"] = folder
    return folders
