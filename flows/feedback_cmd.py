"""``anju feedback build`` and ``anju feedback push``: the agencies' correction packages."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import uuid4

import pandas as pd

from connectors.errors import SourceError
from connectors.feedback import push, staging_rows, write_packages
from connectors.publish import Staging
from connectors.sql import TransientSourceError, expand_env
from reconcile.feedback import SOURCE, cleaned_records, corrections
from schemas.config import load_source_specs


def build(out: str, as_of: date, mapping: str | None = None) -> dict:
    """Packages for both agencies from the published run of ``as_of``, published atomically
    as ``OUT/feedback/<as_of>``."""
    run_dir = Path(out) / as_of.isoformat()
    if not run_dir.exists():
        raise ValueError(f"{run_dir}: no published run for {as_of}; run `anju reconcile` first")
    specs = load_source_specs(mapping)
    disc = pd.read_parquet(run_dir / "discrepancies.parquet")
    summary = {}
    with Staging(Path(out) / "feedback", as_of.isoformat(), f"fb-{uuid4().hex[:12]}") as st:
        for agency in ("ps", "ha"):
            package = corrections(disc, specs, agency)
            records = pd.read_parquet(run_dir / f"records_{agency}.parquet")
            cleaned = cleaned_records(records, specs[SOURCE[agency]], package, agency, specs)
            files = write_packages(st.path, agency, package, cleaned, records["county_code"])
            st.write_table(f"corrections_{agency}", package)
            summary[agency] = {"corrections": len(package), "with_proposal": int(package["建议值"].notna().sum()),
                               "records": len(cleaned), "files": len(files)}
        live = st.commit()
    summary["published"] = str(live)
    return summary


def push_package(out: str, as_of: date, agency: str, url: str, table: str) -> int:
    """Upsert one agency's package into its staging table; ``${VAR}`` in ``url`` comes from
    the environment."""
    import sqlalchemy as sa

    url = expand_env(url)
    path = Path(out) / "feedback" / as_of.isoformat() / f"corrections_{agency}.parquet"
    if not path.exists():
        raise ValueError(f"{path}: no package; run `anju feedback build --out {out} --as-of {as_of}` first")
    rows = staging_rows(pd.read_parquet(path), agency, as_of.isoformat())
    try:
        return push(rows, url, table)
    except (sa.exc.ArgumentError, ImportError) as e:  # a malformed URL, an unknown dialect or driver
        raise SourceError(_shown(url), f"not a usable SQLAlchemy URL ({type(e).__name__})",
                          expected="dialect+driver://user@host/db") from None
    except sa.exc.DBAPIError as e:
        reason = (str(e.orig) if e.orig is not None else str(e)).strip().splitlines()
        reason = reason[0] if reason else type(e).__name__
        if e.statement is None or e.connection_invalidated:  # may answer later: the push task retries it
            raise TransientSourceError(_shown(url), f"cannot connect ({reason})",
                                       expected="a reachable database") from None
        raise SourceError(_shown(url), f"the push to {table} failed, nothing changed ({reason})") from None


def _shown(url: str) -> str:
    """The URL fit for a message: password hidden, even when it does not parse."""
    import re

    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (unparseable: hide what looks like a password)
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
