"""Every ``>>>`` example in the packages runs as part of the suite.

A module is collected when its source holds an example, so a new example anywhere is
run without touching this file. A failing example is reported as file:line, the
source line, what was expected and what came out.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "connectors", "reconcile", "flows", "anju_synth")
FLAGS = doctest.ELLIPSIS


def modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                parts = path.relative_to(ROOT).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = modules_with_examples()


def test_examples_are_found():
    assert {m.split(".")[0] for m in MODULES} >= {"schemas", "connectors", "reconcile"}


@pytest.mark.parametrize("module_name", MODULES)
def test_examples(module_name):
    module = importlib.import_module(module_name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module_name) if t.examples]
    assert tests, f"{module_name} has '>>>' in its source but no example doctest can find"
    failures: list[str] = []

    class Collecting(doctest.DocTestRunner):
        def report_failure(self, out, test, example, got):
            failures.append(f"{where(test, example)}: {example.source.strip()!r} expected {example.want.strip()!r}, "
                            f"got {got.strip()!r}")

        def report_unexpected_exception(self, out, test, example, exc_info):
            failures.append(f"{where(test, example)}: {example.source.strip()!r} raised "
                            f"{exc_info[0].__name__}: {exc_info[1]}")

    runner = Collecting(optionflags=FLAGS, verbose=False)
    for t in tests:
        runner.run(t, out=lambda _: None)
    assert not failures, f"{len(failures)} failing example(s) in {module_name}:\n" + "\n".join(failures)


def where(test: doctest.DocTest, example: doctest.Example) -> str:
    line = (test.lineno or 0) + example.lineno + 1
    path = Path(test.filename or test.name)
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"
