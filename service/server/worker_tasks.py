"""What a request does in a compute worker (service/server/compute.py), not on the server's event loop:
everything that reads user-shaped input beyond its size. A law given as text is parsed here (its
parser is user work), and a job's configuration is checked here (trainers imports torch, whose
loading holds the GIL for a second or more)."""

from __future__ import annotations

from typing import Any

import fitting
from fitting.comparison import ComparisonResult
from service.server import convert, limits
from service.server.reports.figures import LabelledCurve, render
from service.server.store import CurvePoints
from service.settings import Settings


def fit_curves(curves: list[CurvePoints], options: fitting.FitOptions) -> list[fitting.FitResult]:
    """One curve, a batch, or a joint fit (shared parameters across several curves)."""
    law = options.resolve_law()
    pairs = [(_inputs(points, law), points.loss) for points in curves]
    if options.shared and len(pairs) > 1:
        return fitting.fit_joint(pairs, options=options)
    if len(pairs) == 1:
        return [fitting.fit_curve(*pairs[0], options=options)]
    return fitting.fit_batch(pairs, options=options)


def compare_curves(
    curves: list[CurvePoints],
    vocab_sizes: list[int],
    options: fitting.FitOptions,
    horizons: list[float] | None,
    target_losses: list[float],
) -> ComparisonResult:
    """The first curve against the others; L0 shared by default where the law has it."""
    law = options.resolve_law()
    if not options.shared and "L0" in law.param_names:
        options = options.sharing(["L0"])
    (base, *candidates) = [(_inputs(points, law), points.loss) for points in curves]
    return fitting.compare_curves(
        base, candidates, horizons=horizons, target_losses=target_losses, vocab_sizes=vocab_sizes, options=options
    )


def render_report(
    curves: list[CurvePoints], labels: list[str], vocab_sizes: list[int], *, x_min: float | None, bootstrap: int,
    fmt: str, job_summary: dict[str, Any] | None,
) -> bytes:  # fmt: skip
    """The comparison of the first curve against the others, drawn."""
    comparison = fitting.compare_curves(
        (curves[0].x, curves[0].loss), [(c.x, c.loss) for c in curves[1:]], x_min=x_min, bootstrap=bootstrap,
        vocab_sizes=vocab_sizes,
    )  # fmt: skip
    drawn = [LabelledCurve(label, c.x, c.loss) for label, c in zip(labels, curves, strict=True)]
    return render(drawn, comparison, fmt=fmt, job_summary=job_summary, x_min=x_min, bootstrap=bootstrap)


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


def _inputs(points: CurvePoints, law: fitting.Law) -> Any:
    """x, or the named input columns a multi-input law needs."""
    if len(law.inputs) > 1:
        return {name: points.columns[name] for name in law.inputs if name in points.columns}
    return points.x
