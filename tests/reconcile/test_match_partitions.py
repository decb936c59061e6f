"""The scored passes split by county give the same matches as one pass (the flow's way),
second copies and roster candidates included (issue 15)."""
from datetime import date

import pandas as pd

from reconcile import pipeline
from reconcile.match import finish, match_by_id, match_households, members_or_empty
from reconcile.match_scored import assign, combine, fit, partition_levels, residual


def test_partitioned_matching_equals_one_pass(world_raw, specs):
    canon = pipeline.normalize(world_raw, specs, pipeline.Settings(as_of=date(2020, 7, 31)))
    members = members_or_empty(canon.members)
    whole = match_households(canon.ps, members, canon.ha)
    by_id = match_by_id(canon.ps, members, canon.ha)
    res = residual(canon.ps, canon.ha, members, by_id)
    counties = list(res.counties().index)
    assert len(counties) >= 2
    parts = [partition_levels(res.part([c])) for c in counties]
    model = fit(res, parts)
    split = finish(canon.ps, by_id, combine([assign(p, model) for p in parts]))
    pd.testing.assert_frame_equal(split.matches, whole.matches)
    assert whole.matches["explanation"].notna().all()
