"""Comparison levels: the order schemas/matching.yaml declares is the order compare.py computes."""
import pandas as pd
import pytest

from reconcile import compare
from schemas.config import load_matching_settings
from tests.reconcile.builders import make_id

A = make_id("52242519800101001")


def test_yaml_levels_are_the_levels_compare_computes():
    declared = load_matching_settings()["levels"]
    assert declared == {f: list(v) for f, v in compare.LEVELS.items()}
    assert set(compare.LEVEL_TEXT) == set(declared)
    for f, names in declared.items():
        assert len(compare.LEVEL_TEXT[f]) == len(names), f


def _swap(s, i):
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def _level(a, b):
    return compare.LEVELS["id"][int(compare.id_levels(pd.Series([a]), pd.Series([b]))[0])]


@pytest.mark.parametrize("other, level", [
    (A[:10] + "9" + A[11:], "near"),                       # one substitution
    (_swap(A, 14), "near"),                                # one adjacent swap
    ("52242519800101", "excel"),                           # digits Excel kept (rounded to 14)
    ("52242519800", "missing"),                            # too few digits kept to tell
    (A[:14] + "9999", "birth_region"),                     # same region and birth date, other sequence
    ("520102" + A[6:14] + "0017", "birth_date"),           # same birth date elsewhere
    ("", "missing"),
    (make_id("52242519811212001"), "different"),
])
def test_id_levels_in_declared_order(other, level):
    assert _level(A, other) == level
    assert _level(other, A) == level


def test_excel_digits_agree_once_rounded_alike():
    ident = make_id("52242519760811731")        # 14 digits rounded: ...0812 (carry)
    assert _level(ident, "52242519760812") == "excel"
    assert _level(ident, "52242519760811") == "different"
    assert _level(ident, "5224251976081") == "excel"   # 13 digits: a trailing zero dropped would look so
    assert _level(make_id("52242519760811331"), "52242519760811") == "excel"


# --- matching.yaml is the one list of levels; compare.py checks its cases against it at import ---

def test_a_level_order_other_than_the_cases_fails_loudly(monkeypatch):
    swapped = ["near", "birth_region", "excel", "birth_date", "missing", "different"]
    monkeypatch.setitem(compare.LEVELS, "id", swapped)
    with pytest.raises(compare.LevelOrderError, match="id levels"):
        compare.check_levels()


def test_a_renamed_level_fails_loudly(monkeypatch):
    monkeypatch.setitem(compare.LEVELS, "village", ["same", "same_township", "different"])
    with pytest.raises(compare.LevelOrderError):
        compare.check_levels()


def test_a_level_without_its_text_fails_loudly(monkeypatch):
    monkeypatch.setitem(compare.LEVEL_TEXT_ZH, "size", {"same": "人口数相同", "different": "人口数不同"})
    with pytest.raises(compare.LevelOrderError, match="LEVEL_TEXT_ZH"):
        compare.check_levels()


def test_level_index_names_levels_by_name():
    assert [compare.level_index("id", n) for n in compare.LEVELS["id"]] == list(range(len(compare.LEVELS["id"])))
    with pytest.raises(compare.LevelOrderError):
        compare.level_index("id", "nearly")


def test_importing_compare_with_a_reordered_matching_yaml_stops(tmp_path):
    """At load, not at the first pair: a copy of schemas/ with two id levels swapped."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import schemas

    shutil.copytree(Path(schemas.__file__).parent, tmp_path / "schemas",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "reconcile").mkdir()
    (tmp_path / "reconcile" / "__init__.py").write_text("")
    shutil.copy(Path(compare.__file__), tmp_path / "reconcile" / "compare.py")
    yaml_file = tmp_path / "schemas" / "matching.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    assert "id: [near, excel, birth_region," in text
    yaml_file.write_text(text.replace("id: [near, excel, birth_region,", "id: [near, birth_region, excel,"),
                         encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", "import reconcile.compare"], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert run.returncode != 0 and "LevelOrderError" in run.stderr, run.stderr[-2000:]
