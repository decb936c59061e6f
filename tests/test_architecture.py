"""Imports point one way: the import-linter contracts of ``pyproject.toml`` hold, and they
can fail.

The contracts (``[tool.importlinter]``): flows above connectors and reconcile, which do not
import each other, above schemas, which imports nothing of ours; reconcile imports no I/O
or orchestration library; the synthetic-data generator (``anju_synth``) imports nothing of
the core. The second half copies the packages to a temporary folder, writes one wrong
import into a copy, and runs the same linter there: each break must be reported by name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
PACKAGES = CONFIG["root_packages"]
CONTRACT_NAMES = {c["id"]: c["name"] for c in CONFIG["contracts"]}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(where: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the packages in ``where`` (first on the path, ahead of the
    installed project), with the contracts of ``where/pyproject.toml``; no cache written."""
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(where / "pyproject.toml"), "--no-cache", "--no-logo"],
                          cwd=where, env=env, capture_output=True, text=True, timeout=300)


def broken(result: subprocess.CompletedProcess) -> set[str]:
    """The ids of the contracts the linter reports BROKEN."""
    out = " ".join(result.stdout.split())  # the linter wraps long contract names
    return {cid for cid, name in CONTRACT_NAMES.items() if f"{name} BROKEN" in out}


def test_the_contracts_cover_every_package_and_the_rules():
    assert set(PACKAGES) == {"flows", "connectors", "reconcile", "schemas", "anju_synth"}
    assert set(CONTRACT_NAMES) == {"layers", "schemas-is-data", "pure-core", "generator-apart"}
    pure = next(c for c in CONFIG["contracts"] if c["id"] == "pure-core")
    for io in ("prefect", "sqlalchemy", "openpyxl", "xlsxwriter", "xlrd", "fsspec", "paramiko", "asyncssh",
               "great_expectations", "dask", "distributed", "prefect_dask", "requests", "httpx", "alembic",
               "psycopg2", "pymysql"):
        assert io in pure["forbidden_modules"], io


def test_the_contracts_are_kept():
    result = lint(ROOT)
    assert result.returncode == 0 and not broken(result), result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACT_NAMES)} kept, 0 broken." in result.stdout


@pytest.fixture(scope="module")
def copy_of_the_project(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("layering")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return where


def _add_import(path: Path, line: str) -> str:
    """Append ``line`` to the module at ``path``; returns the old text to put back."""
    old = path.read_text(encoding="utf-8")
    path.write_text(old + f"\n{line}  # a deliberate wrong import\n", encoding="utf-8")
    return old


@pytest.mark.parametrize("module, wrong, contract", [
    ("schemas/gate.py", "import reconcile.frames", "schemas-is-data"),
    ("schemas/gate.py", "import reconcile.frames", "layers"),
    ("connectors/workbooks.py", "from reconcile.progress import monthly_progress", "layers"),
    ("reconcile/compare.py", "import connectors.cells", "layers"),
    ("reconcile/frames.py", "import sqlalchemy", "pure-core"),
    ("reconcile/rules.py", "from prefect import task", "pure-core"),
    ("reconcile/parse.py", "import openpyxl", "pure-core"),
    ("anju_synth/__init__.py", "from reconcile.names import clean_names", "generator-apart"),
])
def test_a_wrong_import_breaks_its_contract(copy_of_the_project, module, wrong, contract):
    path = copy_of_the_project / module
    clean = lint(copy_of_the_project)
    assert contract not in broken(clean), clean.stdout  # kept before the break: the break is what fails it
    old = _add_import(path, wrong)
    try:
        result = lint(copy_of_the_project)
    finally:
        path.write_text(old, encoding="utf-8")
    assert result.returncode != 0 and contract in broken(result), result.stdout + result.stderr
    assert wrong.split()[1] in result.stdout  # the report names the offending import


def _imported_top_level(packages: list[str]) -> dict[str, str]:
    """Every top-level module our packages import (absolute imports), with one file importing it."""
    import ast

    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_library_our_code_imports_is_a_declared_dependency():
    """A library used only because another one pulls it in breaks when that one stops."""
    import re
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower().replace("_", "-")
                for d in project["dependencies"]}
    distributions = packages_distributions()
    undeclared = {}
    for module, where in _imported_top_level(PACKAGES).items():
        if module in sys.stdlib_module_names or module in PACKAGES:
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared:
            undeclared[module] = where
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"
