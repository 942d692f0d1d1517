"""One self-contained HTML page for sharing a comparison: the report figure as inline SVG, the
fitted laws, the tables the CLI prints and the settings that made them. Nothing is fetched when it
is opened (no scripts, fonts or images from elsewhere), so it can be mailed or attached as it is.

Built on the client from two calls: the comparison (CompareCurves, or a job's own) and the figure
(RenderReport as SVG) with the same x_min and number of resamples, so figure and tables agree.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import grpc

from service import result_tables as tables
from service.client.errors import FailedPrecondition
from service.formatting import number
from service.models import ComparisonInfo

DEFAULT_RESAMPLES = 200  # what `scalinglaw compare` uses; the figure gets the same number

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
th { background: #f4f4f4; }
p.note, p.caption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
svg { max-width: 100%; height: auto; }
"""


def render_html(
    client: Any,  # a service.client.ScalingLawClient (not imported: the client imports this module)
    *,
    job_id: str | None = None,
    baseline_id: str | None = None,
    candidate_ids: Sequence[str] = (),
    x_min: float | None = None,
    bootstrap: int = 0,
    target_losses: Sequence[float] = (),
) -> str:
    settings: dict[str, str] = {}
    if job_id:
        job = client.get_job(job_id)
        if job.comparison is None:
            reason = f"job {job_id} is {job.state}: it has no comparison to report"
            raise FailedPrecondition(grpc.StatusCode.FAILED_PRECONDITION, reason, [])
        comparison = job.comparison
        svg = client.report(job_id=job_id, fmt="svg", bootstrap=bootstrap)
        settings = {"job": job_id, "task": job.task, "state": job.state, "study": job.study or "-"}
        settings.update({k: str(job.summary[k]) for k in ("steps", "fit_x_min") if k in job.summary})
    else:
        resamples = bootstrap or DEFAULT_RESAMPLES
        comparison = client.compare(
            baseline_id or "", candidate_ids, x_min=x_min, bootstrap=resamples, target_losses=target_losses
        )
        svg = client.report(
            baseline_id=baseline_id, candidate_ids=candidate_ids, fmt="svg", x_min=x_min, bootstrap=resamples
        )
        settings = {"x_min": number(x_min) if x_min is not None else "none (every point)", "resamples": str(resamples)}
    ids = [comparison.baseline_id, *(cand.curve_id for cand in comparison.candidates)]
    names = {i: tables.curve_label(client.get_curve(i)) for i in ids}
    settings.update(
        {
            "law": comparison.baseline_fit.law,
            "shared parameters": ", ".join(comparison.baseline_fit.shared) or "none",
            "intervals": "95 %, " + (comparison.baseline_fit.ci_method or "-"),
            "CR units": comparison.cr_units or "-",
        }
    )
    return page(comparison, names, svg, settings, target_losses)


def page(
    comparison: ComparisonInfo,
    names: dict[str, str],
    svg: bytes,
    settings: dict[str, str],
    target_losses: Sequence[float] = (),
) -> str:
    """The HTML text: a page that needs nothing but itself."""
    baseline = names.get(comparison.baseline_id, comparison.baseline_id)
    candidates = ", ".join(names.get(c.curve_id, c.curve_id) for c in comparison.candidates)
    title = f"{candidates} against {baseline}"
    settings_table = tables.Table("", ("setting", "value"), [(k, v) for k, v in settings.items()])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>scalinglaw: {html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>scalinglaw report, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>",
        "<h2>Figure</h2>",
        inline_svg(svg),
        "<h2>Fitted laws</h2>",
        _laws(comparison, names),
        "<h2>Tables</h2>",
        *(tables.to_html(t) for t in tables.comparison_tables(comparison, names, target_losses)),
        "<h2>Settings</h2>",
        tables.to_html(settings_table),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def inline_svg(svg: bytes) -> str:
    """The SVG element alone: an XML declaration or DOCTYPE is not allowed inside HTML, and the
    comments and metadata (creator, date, licence namespaces) are noise in a page."""
    text = svg.decode()
    start = text.find("<svg")
    if start < 0:
        raise ValueError("the report figure is not an SVG")
    return re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text[start:], flags=re.S)


def _laws(comparison: ComparisonInfo, names: dict[str, str]) -> str:
    """Each curve's law with its fitted values, as a line people can copy into a paper."""
    import fitting

    fits = [comparison.baseline_fit, *(c.fit for c in comparison.candidates)]
    try:
        formula = fitting.get_law(comparison.baseline_fit.law).formula
    except fitting.ScalingLawError:
        formula = comparison.baseline_fit.law
    items = []
    for fit in fits:
        values = ", ".join(f"{p} = {number(fit.params[p])}" for p in tables.param_order(fit))
        label = html.escape(names.get(fit.curve_id, fit.curve_id))
        items.append(f"<li><b>{label}</b>: <code>{html.escape(formula)}</code> with {html.escape(values)}</li>")
    return "<ul>" + "".join(items) + "</ul>"
