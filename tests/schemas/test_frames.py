"""Raw and canonical frame contracts: a passing frame and a failing one for each check."""
import pandas as pd
import pytest

from schemas.frames import CanonicalHa, CanonicalPs, SourceSchemaError, check_raw
from tests.reconcile.builders import HA, PS, raw_frame, run


def test_raw_sources_pass_and_a_missing_required_column_stops_the_source():
    check_raw("ps_households", raw_frame([PS]))
    with pytest.raises(SourceSchemaError, match="householder_id"):
        check_raw("ps_households", raw_frame([PS]).drop(columns=["householder_id"]))


def test_an_empty_source_stops_with_a_clear_error():
    with pytest.raises(SourceSchemaError, match="no data rows"):
        check_raw("ha_archive", raw_frame([HA]).iloc[0:0])


@pytest.fixture(scope="module")
def canonical():
    from reconcile import pipeline
    from schemas import load_source_specs

    c = pipeline.normalize({"ps_households": raw_frame([PS, {**PS, "household_no": "H2", "householder_id": ""}]),
                            "ha_archive": raw_frame([HA])}, load_source_specs(),
                           pipeline.Settings(as_of=pd.Timestamp("2020-07-31").date()))
    return c


def test_canonical_frames_of_a_run_pass(canonical):
    CanonicalPs.validate(canonical.ps)
    CanonicalHa.validate(canonical.ha)


@pytest.mark.parametrize("model, frame, column, value", [
    (CanonicalPs, "ps", "exit_status", "maybe"),
    (CanonicalPs, "ps", "village_code", "5224"),
    (CanonicalPs, "ps", "householder_id_problem", "unheard_of"),
    (CanonicalHa, "ha", "target_type", "其他"),
    (CanonicalHa, "ha", "danger_grade", "E"),
])
def test_each_canonical_check_fails_on_a_bad_value(canonical, model, frame, column, value):
    import pandera.pandas as pa

    bad = getattr(canonical, frame).copy()
    bad[column] = pd.Series([value] * len(bad), index=bad.index, dtype="string")
    with pytest.raises(pa.errors.SchemaError):
        model.validate(bad)


def test_a_valid_flag_on_a_malformed_id_is_caught(canonical):
    import pandera.pandas as pa

    bad = canonical.ps.copy()
    bad.loc[1, "householder_id_valid"] = True
    with pytest.raises(pa.errors.SchemaError):
        CanonicalPs.validate(bad)


def test_the_pipeline_refuses_an_empty_household_export():
    with pytest.raises(SourceSchemaError):
        run([], [HA])


# --- the models read the vocabularies (issue 16): a value is added in vocab.yaml only ---------

def _isin_values(model, column):
    checks = [c for c in model.to_schema().columns[column].checks if c.name == "isin"]
    assert checks, f"{model.__name__}.{column} has no isin check"
    return list(checks[0].statistics["allowed_values"])


def _vocab_columns():
    """(model, column, vocabulary) for every canonical column parsed by a vocabulary and
    held to a list of values by its model."""
    from schemas.config import load_source_specs
    from schemas.frames import CANONICAL, CANONICAL_OF_SOURCE

    out = []
    for source, spec in load_source_specs().items():
        model = CANONICAL[CANONICAL_OF_SOURCE[source]]
        columns = model.to_schema().columns
        for col in spec.columns:
            if col.parse.startswith("vocab:") and col.name in columns \
                    and any(c.name == "isin" for c in columns[col.name].checks):
                out.append((model, col.name, col.parse.split(":", 1)[1]))
    return out


def test_every_vocabulary_column_a_model_restricts_allows_exactly_the_vocabulary():
    from schemas.config import canonical_values
    from schemas.published import Unified

    found = _vocab_columns()
    assert {(m.__name__, c) for m, c, _ in found} >= {
        ("CanonicalPs", "exit_status"), ("CanonicalPs", "dilapidation_grade"), ("CanonicalHa", "target_type"),
        ("CanonicalHa", "secured_result"), ("CanonicalHa", "danger_grade")}
    for model, column, vocab in [*found, (Unified, "exit_status", "exit_status")]:
        assert _isin_values(model, column) == canonical_values(vocab), (model.__name__, column)


_PROBE = """
import pandas as pd, pandera.pandas as pa
from schemas.frames import CanonicalHa
col = CanonicalHa.to_schema().columns["target_type"]
schema = pa.DataFrameSchema({"target_type": col})
for value in ("扶贫对象测试类", "不在词表的类型"):
    try:
        schema.validate(pd.DataFrame({"target_type": [value]}))
        print(value, "accepted")
    except pa.errors.SchemaError:
        print(value, "rejected")
"""


def test_a_value_added_to_vocab_yaml_is_what_the_model_accepts(tmp_path):
    """A copy of schemas/ whose vocab.yaml gains a target type: the model accepts it and
    still refuses a value of no vocabulary. On a model with its own list, the first fails."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import schemas

    copy = tmp_path / "schemas"
    shutil.copytree(Path(schemas.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    vocab = copy / "vocab.yaml"
    text = vocab.read_text(encoding="utf-8")
    old = "canonical: [建档立卡贫困户, 低保户, 农村分散供养特困人员, 贫困残疾人家庭]"
    assert old in text
    vocab.write_text(text.replace(old, old[:-1] + ", 扶贫对象测试类]"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["扶贫对象测试类 accepted", "不在词表的类型 rejected"]


def test_a_canonical_value_of_no_vocabulary_is_refused():
    import pandera.pandas as pa

    schema = pa.DataFrameSchema({"danger_grade": CanonicalHa.to_schema().columns["danger_grade"]})
    schema.validate(pd.DataFrame({"danger_grade": ["A", "D", None]}))
    with pytest.raises(pa.errors.SchemaError):
        schema.validate(pd.DataFrame({"danger_grade": ["E"]}))
