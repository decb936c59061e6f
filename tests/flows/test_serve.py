"""The schedules are what the README says: 02:00 nightly and 01:00 on the 1st, Asia/Shanghai."""
from pathlib import Path

import pytest
import yaml

from flows.serve import deployments, load_settings

ROOT = Path(__file__).resolve().parents[2]
README_SCHEDULES = {"nightly": "0 2 * * *", "monthly": "0 1 1 * *"}


def test_serve_deployments_carry_the_documented_schedules():
    deps = {d.name: d for d in deployments(load_settings(ROOT / "anju.example.yaml")) if d.schedules}
    assert set(deps) == set(README_SCHEDULES)
    for name, cron in README_SCHEDULES.items():
        schedule = deps[name].schedules[0].schedule
        assert (schedule.cron, schedule.timezone) == (cron, "Asia/Shanghai")
        assert cron in (ROOT / "README.md").read_text(encoding="utf-8")
    assert deps["nightly"].parameters["ps_households"] == str(ROOT / "data/sample/ps_households.csv")
    assert deps["nightly"].entrypoint == "flows/reconcile_flow.py:reconcile"


def test_prefect_yaml_matches():
    conf = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    got = {d["name"]: (d["schedules"][0]["cron"], d["schedules"][0]["timezone"]) for d in conf["deployments"]
           if d.get("schedules")}
    assert got == {k: (v, "Asia/Shanghai") for k, v in README_SCHEDULES.items()}
    for d in conf["deployments"]:
        path, _, func = d["entrypoint"].partition(":")
        assert f"def {func}(" in (ROOT / path).read_text(encoding="utf-8")


def test_settings_missing_a_source_are_refused(tmp_path):
    (tmp_path / "s.yaml").write_text("out: o\nsources: {ps_households: a.csv}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="sources.ha_archive"):
        load_settings(tmp_path / "s.yaml")


def test_manual_deployments_need_only_what_the_officer_knows():
    deps = {d.entrypoint: d for d in deployments(load_settings(ROOT / "anju.example.yaml"))}
    rerun, feedback = deps["flows/rerun_flow.py:rerun"], deps["flows/feedback_flow.py:feedback"]
    assert not rerun.schedules and not feedback.schedules
    # the sources come from the settings: counties and as_of are all that is left to give
    required = set(rerun._parameter_openapi_schema.required) - set(rerun.parameters)
    assert required == {"counties", "as_of"}
    assert set(feedback._parameter_openapi_schema.required) - set(feedback.parameters) == {"as_of"}
    counties = rerun._parameter_openapi_schema.properties["counties"]
    assert counties["type"] == "array" and counties["items"]["pattern"] == "^[0-9]{6}$"
