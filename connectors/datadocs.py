"""Run the publishing gate with Great Expectations and write its Data Docs, offline.

One ephemeral GX context per run: no ``great_expectations.yml``, nothing kept between
runs, Data Docs written into the run's own folder (``datadocs/index.html``). GX's pages
name CDN addresses for their CSS and JavaScript and an S3 address for the logo; the
pages are rewritten to the vendored copies in ``datadocs_vendor`` so an analyst opens
them from disk, styled, with nothing fetched from the network. Whatever the gate finds,
the Data Docs never show a full resident ID: every ID-shaped string on the pages is
masked.
"""
from __future__ import annotations

import logging
import re
import shutil
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from schemas.gate import GateExpectation, expectations_for, load_suites, mask_full_ids

VENDOR = Path(__file__).parent / "datadocs_vendor"
SITE = "anju"
LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*?/([\w.-]+\.(?:png|svg))(?:\?[^\"']*)?")
FAVICON = re.compile(r'href="[./]*static/images/favicon\.ico"')
SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
FAILED_EXAMPLES = 3


@dataclass
class GateOutcome:
    success: bool
    evaluated: int
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [f"{f['expectation']}: {f['unexpected']} unexpected — {f['why']}" for f in self.failed]
        return "\n  ".join(lines)


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


def run_gate(frames: dict[str, pd.DataFrame], docs: Path | None, run_name: str = "anju") -> GateOutcome:
    """Run every suite of ``schemas/gate.yaml`` over its frame; write the Data Docs to ``docs``
    (none when ``docs`` is None).

    Returns the outcome; it does not raise on a failed expectation (the caller decides).
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    t = time.perf_counter()
    ctx = _context(docs)
    source = ctx.data_sources.add_pandas("anju")
    definitions, batches = [], {}
    for suite in load_suites():
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
                               "unexpected": r.result.get("unexpected_count", r.result.get("observed_value", "?"))})
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        ctx.build_data_docs(site_names=[SITE])  # once: GX recompiles its templates on every build
        make_offline(docs)
    return GateOutcome(success=not failed, evaluated=evaluated, failed=failed,
                       seconds=round(time.perf_counter() - t, 3))


def make_offline(site: Path) -> None:
    """Point every page of a Data Docs site at the vendored assets and mask full IDs."""
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
        html = mask_full_ids(html)
        page.write_text(html, encoding="utf-8")
