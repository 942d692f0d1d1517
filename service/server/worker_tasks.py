"""What a request does in a compute worker (service/server/compute.py), not on the server's event loop:
everything that reads user-shaped input beyond its size. A law given as text is used here (it
was first read on the loop by convert.fit_kwargs, bounded work, so a bad one names options.law),
and a job's configuration is checked here (trainers imports torch, whose loading holds the GIL for
a second or more)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import fitting
from fitting.comparison import ComparisonResult
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service import models
from service.server import convert, limits
from service.server.reports import html
from service.server.reports.figures import LabelledCurve, render
from service.server.store import CurvePoints
from service.settings import Settings


def fit_curves(curves: list[CurvePoints], shared: list[str], kwargs: dict[str, Any]) -> list[fitting.FitResult]:
    """One curve, a batch, or a joint fit (shared parameters across several curves)."""
    law = fitting.get_law(kwargs["law"]) if not kwargs.get("bounds") and not kwargs.get("starts") else None
    pairs = [(_inputs(points, law), points.loss) for points in curves]
    if shared and len(pairs) > 1:
        return fitting.fit_joint(pairs, shared=shared, **kwargs)
    if len(pairs) == 1:
        return [fitting.fit_curve(*pairs[0], **kwargs)]
    return fitting.fit_batch(pairs, **kwargs)


def compare_curves(
    curves: list[CurvePoints], vocab_sizes: list[int], shared: list[str], kwargs: dict[str, Any]
) -> ComparisonResult:
    """The first curve against the others; L0 shared by default where the law has it."""
    law = fitting.get_law(kwargs["law"])
    shared = shared or (["L0"] if "L0" in law.param_names else [])
    (base, *candidates) = [(_inputs(points, law), points.loss) for points in curves]
    return fitting.compare_curves(base, candidates, shared=shared, vocab_sizes=vocab_sizes, **kwargs)


def render_curves_report(
    curves: list[CurvePoints], labels: list[str], ids: list[str], vocab_sizes: list[int], shared: list[str],
    kwargs: dict[str, Any], *, fmt: str,
) -> bytes:  # fmt: skip
    """The first curve against the others, compared as CompareCurves compares them, then drawn and
    (html) tabled from that one comparison."""
    result = compare_curves(curves, vocab_sizes, shared, kwargs)
    message = convert.comparison_to_pb(result, ids[0], ids[1:])
    x_min = kwargs.get("x_min")
    settings = html.curves_settings(x_min, kwargs["bootstrap"])
    return _render(curves, labels, result, message, fmt=fmt, x_min=x_min, job_summary=None, settings=settings,
                   target_losses=kwargs["target_losses"])  # fmt: skip


def render_job_report(
    curves: list[CurvePoints], labels: list[str], stored: bytes, *, fmt: str, x_min: float,
    job_summary: dict[str, Any], settings: dict[str, str],
) -> bytes:  # fmt: skip
    """The comparison a job stored (a pb.Comparison's bytes), drawn as it is: never a new one, so a
    job's figure, its page and `scalinglaw jobs` show the same numbers."""
    message = pb.Comparison.FromString(stored)
    return _render(curves, labels, convert.comparison_from_pb(message), message, fmt=fmt, x_min=x_min,
                   job_summary=job_summary, settings=settings, target_losses=())  # fmt: skip


def _render(
    curves: Sequence[CurvePoints], labels: Sequence[str], result: ComparisonResult, message: pb.Comparison, *,
    fmt: str, x_min: float | None, job_summary: dict[str, Any] | None, settings: Mapping[str, str],
    target_losses: Sequence[float],
) -> bytes:  # fmt: skip
    """The figure in `fmt`; for html, the page around it as SVG, its tables made from the reply
    models of `message` (the same comparison as `result`) as the client would get them."""
    drawn = [LabelledCurve(label, c.x, c.loss) for label, c in zip(labels, curves, strict=True)]
    bootstrap = message.baseline_fit.n_bootstrap
    figure = render(drawn, result, fmt="svg" if fmt == "html" else fmt, job_summary=job_summary, x_min=x_min,
                    bootstrap=bootstrap)  # fmt: skip
    if fmt != "html":
        return figure
    ids = [message.baseline_id, *(c.curve_id for c in message.candidates)]
    names = dict(zip(ids, labels, strict=True))
    return html.page(models.comparison_from_pb(message), names, figure, settings, target_losses).encode()


def job_spec(request: Any, settings: Settings) -> tuple[dict[str, Any], str, int]:
    """A StartTrainingRequest as a checked run configuration (a corpus only from corpus_dir), its
    device and its estimated peak memory in bytes."""
    from trainers.config import RunSpec
    from trainers.footprint import estimate_peak_bytes

    spec = convert.spec_dict_from_request(request)
    if spec["transformer"].get("corpus"):  # a path on this server: only inside corpus_dir
        spec["transformer"]["corpus"] = limits.corpus_path(spec["transformer"]["corpus"], settings)
    run = RunSpec.from_dict(spec).validate()
    return spec, run.device, estimate_peak_bytes(run)


def _inputs(points: CurvePoints, law: fitting.Law | None) -> Any:
    """x, or the named inputs a multi-input law needs (a schedule law's are x and the column lr)."""
    if law is not None and len(law.inputs) > 1:
        named = {"x": points.x, **points.columns}
        return {name: named[name] for name in law.inputs if name in named}
    return points.x
