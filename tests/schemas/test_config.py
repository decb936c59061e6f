"""Header aliases and vocabularies are data; a province mapping adds aliases without code."""
import pytest

from schemas import load_source_specs, load_vocabularies
from schemas.config import fold


def test_every_spec_alias_of_the_contract_is_known():
    idx = load_source_specs()["ps_households"].alias_index()
    for alias, canon in [("县(市、区)", "county_name"), ("县（市、区）", "county_name"), ("区划代码", "village_code"),
                         ("身份证号码", "householder_id"), ("脱贫状态", "exit_status"), ("hzxm", "householder_name")]:
        assert idx[fold(alias).lower()] == canon


def test_province_mapping_adds_aliases(tmp_path):
    m = tmp_path / "guizhou.yaml"
    m.write_text("ps_households:\n  householder_id: [户主身份证]\n", encoding="utf-8")
    idx = load_source_specs(m)["ps_households"].alias_index()
    assert idx["户主身份证"] == "householder_id" and idx["户主证件号码"] == "householder_id"


def test_mapping_naming_unknown_column_is_refused(tmp_path):
    m = tmp_path / "bad.yaml"
    m.write_text("ps_households:\n  no_such_column: [x]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_column"):
        load_source_specs(m)


def test_vocabulary_crosswalks_land_on_canonical_values():
    for name, vocab in load_vocabularies().items():
        assert set(vocab.lookup.values()) <= set(vocab.canonical), name
