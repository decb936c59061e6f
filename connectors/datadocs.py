"""Run the publishing gate with Great Expectations and write its Data Docs, offline.

One ephemeral GX context per run: no ``great_expectations.yml``, nothing kept between
runs, Data Docs written into the run's own folder (``datadocs/index.html``). GX's pages
name CDN addresses for their CSS and JavaScript and an S3 address for the logo; the
pages are rewritten to the vendored copies in ``datadocs_vendor`` so an analyst opens
them from disk, styled, with nothing fetched from the network. Whatever the gate finds,
the Data Docs never show a full resident ID: every ID-shaped string on the pages is
masked, by the masker the caller hands in (``reconcile.masking``: connectors import
schemas only, and there is one masker).

The failing values GX shows are data, and GX writes them into its tables as raw HTML
(its table cells are not escaped; only its sentence templates are). So before the pages
are built, the unexpected values of every stored result are HTML-escaped
(:func:`_escape_unexpected_values`), and the run name, which GX puts in paths and in an
inline script, is reduced to ``[A-Za-z0-9._-]``. After GX writes the pages, each gets a
Content-Security-Policy (:func:`lock_down`): scripts from the vendored files or by the
sha256 of GX's own inline scripts, nothing from the network; GX's ``onclick``
attributes and ``javascript:`` links, which such a policy blocks, become data attributes
served by one listed script.
"""
from __future__ import annotations

import html as htmllib
import logging
import re
import shutil
import threading
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Collection

import pandas as pd
import yaml

from connectors.htmlsafety import inline_scripts, policy, policy_meta, script_hash
from schemas.gate import GateExpectation, expectations_for, load_suites

Masker = Callable[[str], str]

VENDOR = Path(__file__).parent / "datadocs_vendor"
SITE = "anju"
LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*?/([\w.-]+\.(?:png|svg))(?:\?[^\"']*)?")
FAVICON = re.compile(r'href="[./]*static/images/favicon\.ico"')
SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
FAILED_EXAMPLES = 3
RUN_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
UNEXPECTED_KEYS = ("partial_unexpected_list", "unexpected_list", "partial_unexpected_counts",
                   "partial_unexpected_index_list", "unexpected_index_list")
# GX's inline handlers, by function (its templates call nothing else); anything else is dropped
HANDLER = re.compile(r'\son([a-z]+)\s*=\s*"([^"]*)"', re.I)
KNOWN_CALL = re.compile(r"(showAllValidations|hideSucceededValidations|clearTableFilters)\((?:'([\w-]*)')?\)")
JS_URL = re.compile(r'href\s*=\s*"\s*javascript:[^"]*"', re.I)
TAG = re.compile(r"<[a-zA-Z][^<>]*>")
OWN_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">')
SCRIPT_ELEMENT = re.compile(r"(<script\b.*?</script\s*>)", re.S | re.I)
HANDLERS_SCRIPT = """
document.addEventListener("click", function (e) {
  var el = e.target.closest ? e.target.closest("[data-anju-call]") : null;
  if (!el) return;
  var f = window[el.getAttribute("data-anju-call")];
  if (typeof f !== "function") return;
  e.preventDefault();
  if (el.hasAttribute("data-anju-arg")) f(el.getAttribute("data-anju-arg")); else f();
});
"""


@dataclass
class GateOutcome:
    success: bool
    evaluated: int
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [f"{f['expectation']}: {f['unexpected']} unexpected"
                 + (f" (first: {'; '.join(f['records'])})" if f.get("records") else "") + f" — {f['why']}"
                 for f in self.failed]
        return "\n  ".join(lines)


_ONE_GATE = threading.Lock()


@lru_cache(maxsize=1)
def cdn_assets() -> dict[str, str]:
    return yaml.safe_load((VENDOR / "assets.yaml").read_text(encoding="utf-8"))


def _context(docs: Path | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    for name in list(ctx.get_config().data_docs_sites or {}):
        ctx.delete_data_docs_site(name)
    if docs is None:
        return ctx
    ctx.add_data_docs_site(site_name=SITE, site_config={
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    return ctx


def _gx_expectation(e: GateExpectation):
    from great_expectations.expectations.registry import get_expectation_impl

    return get_expectation_impl(e.expect)(**e.kwargs, notes=e.why or None)


def run_gate(frames: dict[str, pd.DataFrame], docs: Path | None, run_name: str = "anju",
             group: str = "suites", *, mask_ids: Masker, suites: Collection[str] | None = None) -> GateOutcome:
    """Run every suite of a group of ``schemas/gate.yaml`` (``suites``: the publishing gate;
    ``guards``: the volume guard) over its frame; write the Data Docs to ``docs`` (none when
    ``docs`` is None). Each group is its own Data Docs site.

    ``mask_ids`` is the run's ID masker (``reconcile.masking.mask_full_ids``), handed in by
    the flow: connectors import schemas only, and the one masker is the core's. Every record
    the outcome names and every Data Docs page passes through it.

    ``suites``: only these suites of the group (None: all); a partition of a national run
    runs all but ``accounting``, which only the whole run can answer.

    Returns the outcome; it does not raise on a failed expectation (the caller decides).
    """
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every batch under 1 GB with an md5 over pandas' hash of every cell and
    # the index (a third of the gate's time at a million rows): a batch marker we never
    # read, each batch being this run's own frame. Off while the gate runs: the results are the same.
    # GX keeps process-wide state (its current context, this threshold): one gate at a time
    # in a process. A country run's partitions on threads queue here; on process workers
    # they run side by side.
    with _ONE_GATE:
        threshold, pandas_execution_engine.HASH_THRESHOLD = pandas_execution_engine.HASH_THRESHOLD, 0
        try:
            return _run_gate(frames, docs, run_name, group, mask_ids, suites)
        finally:
            pandas_execution_engine.HASH_THRESHOLD = threshold


def _run_gate(frames: dict[str, pd.DataFrame], docs: Path | None, run_name: str, group: str,
              mask_ids: Masker, suites: Collection[str] | None) -> GateOutcome:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    t = time.perf_counter()
    run_name = RUN_NAME_UNSAFE.sub("_", run_name) or "anju"  # GX makes it a folder and puts it in a script
    ctx = _context(docs)
    source = ctx.data_sources.add_pandas("anju")
    definitions, batches = [], {}
    for suite in load_suites(group):
        if suites is not None and suite.name not in suites:
            continue
        exps = expectations_for(suite, frames[suite.name])
        # Only the columns the suite reads: GX fingerprints and filters the whole batch.
        frame = frames[suite.name][sorted({e.kwargs[k] for e in exps for k in ("column", "column_A", "column_B")
                                           if k in e.kwargs})]
        gx_suite = ctx.suites.add(gx.ExpectationSuite(name=suite.name,
                                                      expectations=[_gx_expectation(e) for e in exps]))
        batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("published")
        definitions.append(ctx.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)))
        batches[suite.name] = frame
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(timezone.utc))
    failed, evaluated = [], 0
    for vd in definitions:  # each frame is its own batch
        result = vd.run(batch_parameters={"dataframe": batches[vd.name]}, run_id=run_id,
                        result_format={"result_format": "SUMMARY", "partial_unexpected_count": FAILED_EXAMPLES})
        for r in result.results:
            evaluated += 1
            if not r.success:
                cfg = r.expectation_config
                e = GateExpectation(vd.name, cfg.type, dict(cfg.kwargs), cfg.notes or "")
                failed.append({"expectation": e.label, "why": e.why,
                               "unexpected": r.result.get("unexpected_count", r.result.get("observed_value", "?")),
                               "records": _records(r.result.get("partial_unexpected_index_list"), mask_ids)})
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        _escape_unexpected_values(ctx)
        ctx.build_data_docs(site_names=[SITE])  # once: GX recompiles its templates on every build
        make_offline(docs, mask_ids)
    return GateOutcome(success=not failed, evaluated=evaluated, failed=failed,
                       seconds=round(time.perf_counter() - t, 3))


def _escape(value):
    if isinstance(value, str):
        return htmllib.escape(value, quote=True)
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_escape(v) for v in value)
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _escape_unexpected_values(ctx) -> None:
    """HTML-escape the failing values in every stored validation result: GX renders them
    into table cells as they are. Counts, percentages and the outcome are untouched."""
    store = ctx.validation_results_store
    for key in store.list_keys():
        suite_result = store.get(key)
        for r in suite_result.results:
            for k in UNEXPECTED_KEYS:
                if r.result and k in r.result:
                    r.result[k] = _escape(r.result[k])
        store.set(key, suite_result)


def _handler(m: re.Match) -> str:
    call = KNOWN_CALL.fullmatch(htmllib.unescape(m.group(2)).strip()) if m.group(1).lower() == "click" else None
    if call is None:
        return ""
    arg = f' data-anju-arg="{call.group(2)}"' if call.group(2) is not None else ""
    return f' data-anju-call="{call.group(1)}"{arg}'


def lock_down(page: str) -> str:
    """``page`` with a CSP meta listing the hashes of its inline scripts, its handlers moved
    out of attributes. Runs on the pages GX wrote from escaped values, so every inline
    script on them is GX's own. Idempotent: a page locked down twice gets one policy."""
    page = OWN_POLICY.sub("", page)
    parts = SCRIPT_ELEMENT.split(page)  # odd items are script elements: their text is left alone
    page = "".join(part if i % 2 else TAG.sub(lambda m: JS_URL.sub('href="#"', HANDLER.sub(_handler, m.group(0))), part)
                   for i, part in enumerate(parts))
    if "data-anju-call=" in page and HANDLERS_SCRIPT not in page:
        page = page.replace("</body>", f"<script>{HANDLERS_SCRIPT}</script></body>", 1)
    meta = policy_meta(policy([script_hash(s) for s in inline_scripts(page)], files=True, data_images=True))
    head = re.search(r"<head[^>]*>", page, re.I)
    return page[:head.end()] + meta + page[head.end():] if head else meta + page


def _records(index_list, mask_ids: Masker) -> list[str]:
    """The records of a failed expectation's first unexpected values, as ``gate_frames``
    indexed them (``discrepancy_id=… household_no=…``), IDs masked."""
    return [mask_ids(str(x.get("record", "?") if isinstance(x, dict) else x)) for x in index_list or []]


def make_offline(site: Path, mask_ids: Masker) -> None:
    """Point every page of a Data Docs site at the vendored assets, mask full IDs, lock
    the page down with its Content-Security-Policy."""
    shutil.copytree(VENDOR, site / "static" / "vendor", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.yaml", "*.md"))
    for page in site.rglob("*.html"):
        up = "../" * (len(page.relative_to(site).parts) - 1)
        html = page.read_text(encoding="utf-8")
        for url, local in cdn_assets().items():
            html = html.replace(f'"{url}"', f'"{up}static/vendor/{local}"')
        html = LOGO.sub(lambda m: f"{up}static/images/{m.group(1)}", html)
        html = FAVICON.sub(f'href="{up}static/images/favicon.ico"', html)  # GX gets the depth wrong
        html = SRI.sub("", html)  # integrity/crossorigin would block file:// loads
        html = mask_ids(html)
        page.write_text(lock_down(html), encoding="utf-8")
