"""One self-contained HTML page for sharing a comparison: the report figure as inline SVG, the
fitted laws, the tables the CLI prints and the settings that made them. Nothing is fetched when it
is opened (no scripts, fonts or images from elsewhere), so it can be mailed or attached as it is.

Made from one comparison: the figure drawn from it, the tables from the reply models the client
gets for it (service/models.py, service/result_tables.py), so the page, its figure and
`scalinglaw compare` show the same digits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from service import result_tables as tables
from service.formatting import number
from service.models import BacktestRowInfo, ComparisonInfo

MEDIA_TYPE = "text/html; charset=utf-8"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
th { background: #f4f4f4; }
p.note, p.caption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
svg { max-width: 100%; height: auto; }
"""


def curves_settings(x_min: float | None, resamples: int) -> dict[str, str]:
    """What a report of stored curves was asked for."""
    return {"x_min": number(x_min) if x_min is not None else "none (every point)", "resamples": str(resamples)}


def job_settings(
    job_id: str, state: str, study: str, spec: Mapping[str, Any], x_min: float, resamples: int
) -> dict[str, str]:
    """Which job the page reports, and the run settings its stored comparison was made with."""
    return {
        "job": job_id, "task": str(spec.get("task", "-")), "state": state, "study": study or "-",
        "steps": str(spec.get("steps", "-")), "seed": str(spec.get("seed", "-")), "x_min": number(x_min),
        "resamples": str(resamples),
    }  # fmt: skip


def page(
    comparison: ComparisonInfo,
    names: Mapping[str, str],
    svg: bytes,
    settings: Mapping[str, str],
    target_losses: Sequence[float] = (),
    backtest: Sequence[BacktestRowInfo] | None = None,
) -> str:
    """The HTML text: a page that needs nothing but itself. `names` maps curve ids to what people
    call the curves; `settings` says what the report was asked for (the fits' own are added)."""
    baseline = names.get(comparison.baseline_id, comparison.baseline_id)
    candidates = ", ".join(names.get(c.curve_id, c.curve_id) for c in comparison.candidates)
    title = f"{candidates} against {baseline}"
    fit = comparison.baseline_fit
    rows = {
        **settings,
        "law": fit.law,
        "shared parameters": ", ".join(fit.shared) or "none",
        "intervals": "95 %, " + (fit.ci_method or "-"),
        "CR units": comparison.cr_units or "-",
    }
    settings_table = tables.Table("", ("setting", "value"), list(rows.items()))
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
        *([tables.to_html(tables.backtest_table(backtest, names))] if backtest else []),
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


def _laws(comparison: ComparisonInfo, names: Mapping[str, str]) -> str:
    """Each curve's law with its fitted values, as a line people can copy into a paper."""
    items = []
    for fit in [comparison.baseline_fit, *(c.fit for c in comparison.candidates)]:
        values = ", ".join(f"{p} = {number(fit.params[p])}" for p in tables.param_order(fit))
        label = html.escape(names.get(fit.curve_id, fit.curve_id))
        formula = html.escape(fit.formula or fit.law)
        items.append(f"<li><b>{label}</b>: <code>{formula}</code> with {html.escape(values)}</li>")
    return "<ul>" + "".join(items) + "</ul>"
