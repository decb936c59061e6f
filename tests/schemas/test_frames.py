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
