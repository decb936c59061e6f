"""``anju feedback build`` and ``anju feedback push``: the agencies' correction packages.

Wiring only: the published run is read, the packages written and pushed by ``connectors``;
the corrections are the core's (``reconcile.feedback``).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import uuid4

from connectors import feedback as packages
from connectors.previous_run import published_run, read_table
from connectors.publish import Staging
from reconcile import FEEDBACK_SOURCE as SOURCE
from reconcile import cleaned_records, corrections
from schemas.config import load_source_specs


def build(out: str, as_of: date, mapping: str | None = None) -> dict:
    """Packages for both agencies from the published run of ``as_of``, published atomically
    as ``OUT/feedback/<as_of>``."""
    run_dir = published_run(out, as_of.isoformat())
    specs = load_source_specs(mapping)
    disc = read_table(run_dir, "discrepancies")
    summary = {}
    with Staging(Path(out) / "feedback", as_of.isoformat(), f"fb-{uuid4().hex[:12]}") as st:
        for agency in ("ps", "ha"):
            package = corrections(disc, specs, agency)
            records = read_table(run_dir, f"records_{agency}")
            cleaned = cleaned_records(records, specs[SOURCE[agency]], package, agency, specs)
            files = packages.write_packages(st.path, agency, package, cleaned, records["county_code"])
            st.write_table(f"corrections_{agency}", package)
            summary[agency] = {"corrections": len(package), "with_proposal": int(package["建议值"].notna().sum()),
                               "records": len(cleaned), "files": len(files)}
        live = st.commit()
    summary["published"] = str(live)
    return summary


def push_package(out: str, as_of: date, agency: str, url: str, table: str) -> int:
    """Upsert one agency's package into its staging table; ``${VAR}`` in ``url`` comes from
    the environment."""
    return packages.push_package(out, as_of.isoformat(), agency, url, table)
