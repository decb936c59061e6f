"""Retention of published run folders (issue 23): the defaults of the settings file's
``retention:`` section. Folders of the last ``KEEP_DAYS`` days are kept, and every month
end's (all of them, or the newest ``KEEP_MONTH_ENDS``); older ones are removed by the
run that publishes. The store keeps every date's tables as history whatever is pruned.
"""
from __future__ import annotations

KEEP_DAYS = 14            # published dates within this many days of the newest are kept
KEEP_MONTH_ENDS = None    # month-end dates kept: None keeps all, a number the newest that many
