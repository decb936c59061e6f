"""Named defaults: the one place each default value of Anju is written down.

The command line, the settings file (``anju.example.yaml`` documents each), the flows and
the generator all take their defaults from here, so that changing one changes it everywhere.
"""
from __future__ import annotations

from datetime import date

# The notice (建办村〔2020〕6号): renovation tasks finish by this date.
DEADLINE = date(2020, 6, 30)
# The date the bundled sample and the generator's world describe.
SAMPLE_AS_OF = date(2020, 7, 31)

# Scored matching on Dask: residual records (both sides) per partition.
PARTITION_RECORDS = 200_000
# Sources parsed at once (``reconcile.pipeline.parse_sources``): the machines Anju runs on
# have two cores or more, and a run parses three sources.
PARSE_THREADS = 2
# Catalog rules applied at once (``reconcile.discrepancies.classify``).
RULE_THREADS = 2
# Rows of every stored table (and the ledger) a national run loads into the store at a
# time: whole counties, up to about this many, one table at a time
# (``flows/country_store.py``): the flow's process peaked at 1.0 GB loading 300,000
# households (counties of about 50,000) into SQLite.
STORE_SHARE_ROWS = 250_000

# One sheet of an .xlsx file holds at most this many rows (header included).
EXCEL_MAX_ROWS = 1_048_576

# The reporting unit (填报单位) the monthly progress sheet names.
REPORTING_UNIT = "省住房和城乡建设厅"

# Drop folders (connectors/drops.py) and the volume guard (schemas/guards.py): the defaults
# of the settings file's `drops:` and `guards:` sections.
MAX_AGE_DAYS = 2            # an export dated more days before as_of is stale
HOLD_STALE = True           # a stale export holds publication
HOLD_UNCHANGED = False      # bytes identical to the last run's: named, published
REUSE_INPUTS = True         # a re-run of a date reads the bytes its published run read
COUNTY_ROWS_CHANGE = 0.20   # a county's rows per source may move by this share
GUARD_MIN_ROWS = 30         # counties (and ledgers) smaller than this are not judged by shares
FILL_WAS = 0.90             # a column filled at least this much before ...
FILL_NOW = 0.50             # ... must stay filled at least this much
RESOLVED_SHARE_MAX = 0.20   # more of the open discrepancies resolved in one run: held
RESOLVED_SHARE_RATIO = 3.0  # ... or more than this many times the usual share
RESOLVED_SHARE_FLOOR = 0.05  # ... once above this share (the usual share is often 0)
USUAL_RUNS = 7              # the usual share: median over this many previous published runs

# Retention of published run folders (issue 23): the defaults of the settings file's
# `retention:` section. Folders of the last KEEP_DAYS days before the newest published
# date are kept, and every month end's (None: all of them; a number: the newest that many);
# older ones are removed by the run that publishes. The store keeps every date's tables
# as history whatever is removed.
KEEP_DAYS = 14
KEEP_MONTH_ENDS = None
