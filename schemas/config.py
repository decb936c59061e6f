"""Loaders for the declarative contracts kept as YAML beside this module."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
SOURCES = ("ps_households", "ps_members", "ha_archive")


def fold(text: str) -> str:
    """The lookup form of a header or a coded value: NFKC, no white space."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split())


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    aliases: tuple[str, ...]
    parse: str
    required: bool = False
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class SourceSpec:
    name: str
    key: str | None
    columns: tuple[ColumnSpec, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def alias_index(self) -> dict[str, str]:
        """Folded alias (and canonical name) -> canonical column name."""
        index: dict[str, str] = {}
        for col in self.columns:
            for alias in (col.name, *col.aliases):
                index.setdefault(fold(alias).lower(), col.name)
        return index

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _merge_mapping(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {k: {"key": v.get("key"), "columns": {c: dict(s) for c, s in v["columns"].items()}}
              for k, v in base.items()}
    for source, body in (extra or {}).items():
        if source not in merged:
            raise ValueError(f"mapping file names unknown source {source!r}; known: {', '.join(SOURCES)}")
        for col, spec in (body.get("columns") or body).items():
            if col not in merged[source]["columns"]:
                raise ValueError(f"mapping file names unknown column {source}.{col}")
            aliases = spec.get("aliases", spec) if isinstance(spec, dict) else spec
            current = merged[source]["columns"][col]
            current["aliases"] = list(aliases) + list(current.get("aliases", []))
    return merged


def load_source_specs(mapping_file: str | Path | None = None) -> dict[str, SourceSpec]:
    """Column specs of the three sources; a province mapping file adds aliases.

    >>> specs = load_source_specs()
    >>> specs["ha_archive"].alias_index()["身份证号码"]
    'householder_id'
    """
    raw = yaml.safe_load((HERE / "headers" / "default.yaml").read_text(encoding="utf-8"))
    if mapping_file is not None:
        extra = yaml.safe_load(Path(mapping_file).read_text(encoding="utf-8")) or {}
        raw = _merge_mapping(raw, extra)
    specs = {}
    for source, body in raw.items():
        cols = tuple(
            ColumnSpec(name=name, aliases=tuple(str(a) for a in spec.get("aliases", [])),
                       parse=spec["parse"], required=bool(spec.get("required", False)),
                       min=spec.get("min"), max=spec.get("max"))
            for name, spec in body["columns"].items()
        )
        specs[source] = SourceSpec(name=source, key=body.get("key"), columns=cols)
    return specs


@dataclass(frozen=True)
class Vocabulary:
    name: str
    canonical: tuple[Any, ...]
    lookup: dict[str, Any] = field(repr=False)
    secured: frozenset[str] = frozenset()


@lru_cache(maxsize=1)
def load_vocabularies() -> dict[str, Vocabulary]:
    raw = yaml.safe_load((HERE / "vocab.yaml").read_text(encoding="utf-8"))
    vocabs = {}
    for name, body in raw.items():
        if name == "native":
            continue
        lookup = {fold(k): v for k, v in (body.get("map") or {}).items()}
        if body.get("identity"):
            lookup.update({fold(v): v for v in body["canonical"]})
        vocabs[name] = Vocabulary(name=name, canonical=tuple(body["canonical"]), lookup=lookup,
                                  secured=frozenset(body.get("secured", [])))
    return vocabs


def canonical_values(vocabulary: str) -> list:
    """The canonical values of one vocabulary of vocab.yaml: what a pandera model's ``isin``
    allows, so that a value is added in one place.

    >>> canonical_values("exit_status")
    ['exited', 'not_exited']
    """
    return list(load_vocabularies()[vocabulary].canonical)


@dataclass(frozen=True)
class RuleSpec:
    code: str
    label_zh: str
    severity: str
    owner: str
    message_zh: str
    message_en: str
    action_zh: str
    action_en: str
    record: str
    corrects: dict = field(default_factory=dict)
    suggest_for: str | None = None
    basis_zh: str | None = None


Catalog = dict[str, RuleSpec]
RECORDS = ("ps", "ha", "pair", "agency")  # what a rule's hit names (catalog.yaml `record`)
OWNERS = ("ps", "ha", "both", "agency")


def check_rule(spec: RuleSpec, severities: dict[str, str]) -> None:
    """A catalog entry whose facts contradict each other stops the load, naming the rule."""
    wrong = [f"severity {spec.severity!r} is none of {', '.join(severities)}"] if spec.severity not in severities else []
    if spec.owner not in OWNERS:
        wrong.append(f"owner {spec.owner!r} is none of {', '.join(OWNERS)}")
    if spec.record not in RECORDS:
        wrong.append(f"record {spec.record!r} is none of {', '.join(RECORDS)}")
    if (spec.suggest_for is None) != (spec.basis_zh is None):
        wrong.append("a rule that suggests a value says its basis (basis_zh), and only such a rule")
    if wrong:
        raise ValueError(f"catalog.yaml {spec.code}: " + "; ".join(wrong))


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    raw = yaml.safe_load((HERE / "catalog.yaml").read_text(encoding="utf-8"))
    catalog = {code: RuleSpec(code=code, **body) for code, body in raw.items()}
    severities = yaml.safe_load((HERE / "labels.yaml").read_text(encoding="utf-8"))["severity"]
    for spec in catalog.values():
        check_rule(spec, severities)
    return catalog


@lru_cache(maxsize=1)
def load_labels() -> dict[str, dict[str, str]]:
    """Chinese labels for the codes a person reads (severity, agency, owner, ledger status,
    progress level, alert kinds): ``labels.yaml``. Rule labels live in the catalog."""
    raw = yaml.safe_load((HERE / "labels.yaml").read_text(encoding="utf-8"))
    raw["rule"] = {code: spec.label_zh for code, spec in load_catalog().items()}
    return raw


@lru_cache(maxsize=1)
def native_spellings() -> dict[str, dict]:
    """Canonical value -> how the agencies write it (是/否, 已脱贫, C级 …), per vocabulary."""
    raw = yaml.safe_load((HERE / "vocab.yaml").read_text(encoding="utf-8"))
    return raw.get("native", {})


@lru_cache(maxsize=1)
def load_matching_settings() -> dict:
    """Thresholds, block limits and comparison levels of the matcher (matching.yaml)."""
    return yaml.safe_load((HERE / "matching.yaml").read_text(encoding="utf-8"))
