"""Shared fixtures: the bundled sample, small synthetic worlds, database URLs."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _websockets_draw_from_their_own_random() -> None:
    """The websockets library pings Prefect's event stream from a background thread (every
    20 s, and again after a test's server is gone) with the ``random`` module's own
    generator. Between two of Hypothesis's draws that moves the global state, and Hypothesis
    warns that a strategy used ``random`` (a property test then fails at random, once the
    warning is an error). In the test process its pings and backoffs draw from a generator
    of their own."""
    import importlib
    import random
    import sys

    modules = ["websockets.asyncio.connection", "websockets.sync.connection", "websockets.client"]
    modules += [m for m in ("websockets.legacy.protocol", "websockets.legacy.client") if m in sys.modules]
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:  # another websockets: nothing of this to isolate
            continue
        if getattr(module, "random", None) is random:
            module.random = random.Random()


_websockets_draw_from_their_own_random()
SAMPLE = ROOT / "data" / "sample"
AS_OF = date(2020, 7, 31)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def harness():
    """One temporary Prefect server for every flow test of the session."""
    import flows.runtime  # noqa: F401  (offline defaults before Prefect loads)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def specs():
    from schemas import load_source_specs

    return load_source_specs()


@pytest.fixture(scope="session")
def world_files(tmp_path_factory) -> Path:
    """A 3,000-household world written as Parquet (fast to read), with its truth."""
    from anju_synth import build_world, write_world

    out = tmp_path_factory.mktemp("world")
    write_world(build_world(3000, seed=11), out, seed=11, fmt="parquet")
    return out


@pytest.fixture(scope="session")
def world_raw(world_files, specs) -> dict[str, pd.DataFrame]:
    from connectors import read_source

    return {name: read_source(world_files / f"{name}.parquet", specs[name]).frame
            for name in ("ps_households", "ps_members", "ha_archive")}


def precision_recall(found: pd.DataFrame, truth: pd.DataFrame, key: list[str]) -> tuple[float, float]:
    f = found[key].astype("string").fillna("").drop_duplicates()
    t = truth[key].astype("string").fillna("").drop_duplicates()
    tp = len(f.merge(t, on=key))
    return (tp / len(f) if len(f) else 1.0), (tp / len(t) if len(t) else 1.0)


def database_url(kind: str) -> str:
    """URL of the test database, or skip (outside CI) / fail (in CI) when it does not answer."""
    import sqlalchemy as sa

    url = {"postgres": os.environ.get("ANJU_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
           "mariadb": os.environ.get("ANJU_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")}[kind]
    try:
        with sa.create_engine(url).connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as e:  # any driver error means: no server here
        if IN_CI:
            pytest.fail(f"{kind} server at {url} does not answer under CI: {e}")
        pytest.skip(f"no {kind} server reachable at {url} ({type(e).__name__})")
    return url


@pytest.fixture
def fresh_database():
    """A factory of throwaway databases on the real servers, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    made = []

    def make(kind: str) -> str:
        base = database_url(kind)
        name = f"anju_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        made.append((admin, name, kind))
        return sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)

    yield make
    for admin, name, kind in made:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name}" + (" WITH (FORCE)" if kind == "postgres" else "")))
        admin.dispose()
