"""The typed run record writes run.json's keys in their published order, round-trips, and
refuses a key it does not know."""
import json

import pytest

from schemas.run_record import RunRecord

# run.json's keys in the order a published run writes them (the sample job's run.json)
PUBLISHED_ORDER = ["run_id", "as_of", "scope", "started_at", "parameters", "exports", "inputs", "tables",
                   "quarantine_by_problem", "discrepancies_by_rule", "ledger_changes", "matches_by_method",
                   "match_model", "seconds", "versions", "guards", "gate", "finished_at"]


def published_record() -> dict:
    return {"run_id": "20200731-0123456789ab", "as_of": "2020-07-31", "scope": "all",
            "started_at": "2026-11-29T19:53:01+00:00",
            "parameters": {"deadline": "2020-06-30", "mapping": None, "partitions": 1},
            "exports": [], "inputs": {"ps_households": {"rows_read": 3, "rows_used": 3}},
            "tables": {"matches": 2, "ledger": 1}, "quarantine_by_problem": [],
            "discrepancies_by_rule": {"INVALID_ID": 1}, "ledger_changes": {"new": 1, "open": 0},
            "matches_by_method": {"id_exact": 2},
            "match_model": {"prior": 0.9, "iterations": 25, "m": {"name": {"exact": 0.9}},
                            "u": {"name": {"exact": 0.1}}},
            "seconds": {"extract": 1.0}, "versions": {"anju": "0.1.0"},
            "guards": {"evaluated": 4, "failed": []}, "gate": {"evaluated": 37, "failed": []},
            "finished_at": "2026-11-29T19:53:32+00:00"}


def test_a_published_run_json_round_trips_byte_for_byte():
    data = published_record()
    text = json.dumps(data, ensure_ascii=False, indent=2)
    again = RunRecord.from_dict(json.loads(text)).as_dict()
    assert list(again) == PUBLISHED_ORDER
    assert json.dumps(again, ensure_ascii=False, indent=2) == text


def test_late_keys_appear_once_set_and_published_comes_last():
    r = RunRecord.from_dict({k: v for k, v in published_record().items()
                             if k not in ("guards", "gate", "finished_at")})
    assert list(r.as_dict()) == PUBLISHED_ORDER[:-3]
    r.gate, r.published = {"evaluated": 1}, "/out/2020-07-31"
    assert list(r.as_dict())[-2:] == ["gate", "published"]


def test_a_run_without_a_fitted_model_keeps_match_model_null():
    r = RunRecord.from_dict({**published_record(), "match_model": None})
    assert "match_model" in r.as_dict() and r.as_dict()["match_model"] is None


def test_an_unknown_key_is_refused():
    with pytest.raises(ValueError, match="unknown key.*matchs_by_method"):
        RunRecord.from_dict({**published_record(), "matchs_by_method": {}})


def test_the_sample_run_json_reads_as_a_record(tmp_path):
    from connectors.publish import Staging
    from connectors.run_files import read_run_record, write_run_record

    record = RunRecord.from_dict(published_record())
    with Staging(tmp_path, record.as_of, record.run_id) as staging:
        path = write_run_record(staging, record)
        assert path.read_text(encoding="utf-8") == json.dumps(published_record(), ensure_ascii=False, indent=2)
        assert read_run_record(staging.path) == record
