"""What every fit entry point (fit_curve, fit_batch, fit_joint) does around its own robust
procedure, written once: the options checked against the law, the curves validated, a constant
curve reported unidentifiable and left out of the fit, the paper's procedure for method "paper",
a note on each result of the points at x <= 0 left out, and the verdict on whether the law
describes each curve."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fitting.assemble import constant_result
from fitting.errors import InvalidInputError
from fitting.law_types import Law
from fitting.options import FitOptions
from fitting.paper import fit_paper
from fitting.result import FitResult
from fitting.validation import CurveData, check_fixed, is_constant, left_out_note, prepare_alike, prepare_curve
from fitting.verdict import Verdict, judge_residuals, judge_rows


@dataclass(frozen=True, eq=False)
class PreparedFit:
    """Options checked against their law, and the curves validated and cut to the fitting range."""

    options: FitOptions
    law: Law
    fixed: dict[str, float]  # the pinned values, checked against the law's bounds
    shared: tuple[str, ...]  # () unless the curves are fitted jointly
    data: list[CurveData]


JUDGE_ROWS = 256  # curves judged together in one array (fitting/verdict.py's judge_rows)

# The entry point's own procedure for the curves that are not constant, with the method "robust".
RobustFit = Callable[[PreparedFit, list[CurveData]], list[FitResult]]


def prepare_fit(
    curves: Sequence[tuple[Any, Any]], options: FitOptions, *, name_curves: bool, joint: bool = False
) -> PreparedFit:
    """Every check that needs the law, then each curve's. name_curves: errors say "curves[i].loss"
    rather than "loss". joint: the options' shared parameters are shared (else ignored)."""
    if not isinstance(curves, Sequence):  # an iterator is read twice below (blocks, then one by one)
        curves = list(curves)
    law = options.resolve_law()
    fixed = check_fixed(law, options.fixed)
    shared = options.shared if joint else ()
    for name in shared:
        if name not in law.param_names:
            raise InvalidInputError(
                f"{name!r} is not a parameter of {law.name} ({', '.join(law.param_names)})", field="shared"
            )
    if (options.x_min is not None or options.x_max is not None) and not law.along_x:
        raise InvalidInputError("a fitting range applies to laws of a curve along x only", field="x_min")
    if options.method == "paper":
        if law.name != "step_power":
            raise InvalidInputError(f"the paper's procedure fits step_power only, not {law.name}", field="method")
        if set(fixed) - {"L0"}:
            raise InvalidInputError("the paper's procedure can fix L0 only", field="fixed")
    n_free = len(law.params) - len(fixed)
    data = prepare_alike(curves, law, x_min=options.x_min, x_max=options.x_max, n_free=n_free)
    if data is None:
        data = []
        for i, item in enumerate(curves):
            prefix = f"curves[{i}]." if name_curves else ""
            x, loss = _pair(item, prefix)
            data.append(
                prepare_curve(x, loss, law, x_min=options.x_min, x_max=options.x_max, n_free=n_free, prefix=prefix)
            )
    return PreparedFit(options, law, fixed, shared, data)


def _pair(item: Any, prefix: str) -> tuple[Any, Any]:
    """An (x, loss) item of the curves, or an error naming it."""
    try:
        x, loss = item
    except (TypeError, ValueError):
        raise InvalidInputError("must be an (x, loss) pair", field=prefix.rstrip(".") or "curves") from None
    return x, loss


def fit_prepared(prepared: PreparedFit, robust: RobustFit) -> list[FitResult]:
    """One result per curve, in order: a constant curve determines no rate (unidentifiable, and
    left out of a joint fit); the others go to the paper's procedure or to `robust`."""
    options, data = prepared.options, prepared.data
    paper = options.method == "paper"
    results: list[FitResult | None] = [None] * len(data)
    fittable = []
    for i, d in enumerate(data):
        if is_constant(d.loss):
            results[i] = constant_result(prepared.law, d, options.method, "linear" if paper else options.loss_fn)
        else:
            fittable.append(i)
    if fittable:
        curves = [data[i] for i in fittable]
        if paper:
            fitted = fit_paper(
                curves, prepared.law, fixed=prepared.fixed, x_min=options.x_min, bootstrap=options.bootstrap,
                seed=options.seed, shared=prepared.shared,
            )  # fmt: skip
        else:
            fitted = robust(prepared, curves)
        for i, result in zip(fittable, fitted, strict=True):
            results[i] = result
    return with_verdicts(prepared.law, left_out_note([r for r in results if r is not None], data), data)


def with_verdicts(law: Law, results: list[FitResult], data: Sequence[CurveData]) -> list[FitResult]:
    """Each result with the verdict on whether its law describes its curve, from the residuals of
    its final parameters on the points it was fitted to (fitting/verdict.py). Curves on the same
    points (a batch of runs logged at the same steps) are judged together, as rows of one array."""
    verdicts: list[Verdict | None] = [None] * len(results)
    same_points: dict[bytes, list[int]] = {}
    for i, (result, curve) in enumerate(zip(results, data, strict=True)):
        if result.verdict is not None:  # judged where the fit was (assemble.solver_verdicts)
            verdicts[i] = result.verdict
        elif not all(math.isfinite(v) for v in result.params.values()):
            verdicts[i] = Verdict(False, f"not judged: {result.message or 'the fit determined no law'}")
        elif all(v.ndim == 1 for v in curve.inputs.values()):
            same_points.setdefault(b"".join(curve.inputs[k].tobytes() for k in sorted(curve.inputs)), []).append(i)
        else:
            verdicts[i] = _judge_one(law, results[i], curve)
    for same in same_points.values():
        # in slices of JUDGE_ROWS: each pass over the rows then stays in cache (4,000 rows of 1,000
        # points at once took 1.7x as long, the passes running at memory speed)
        for start in range(0, len(same), JUDGE_ROWS):
            rows = same[start : start + JUDGE_ROWS]
            together = _judge_together(law, [results[i] for i in rows], [data[i] for i in rows])
            for i, verdict in zip(rows, together, strict=True):
                verdicts[i] = verdict if verdict is not None else _judge_one(law, results[i], data[i])
    return [
        result if result.verdict is v else replace(result, verdict=v)
        for result, v in zip(results, verdicts, strict=True)
    ]


def _judge_one(law: Law, result: FitResult, curve: CurveData) -> Verdict:
    params = {k: np.asarray(v, dtype=float) for k, v in result.params.items()}
    log_loss = np.log(curve.loss)
    with np.errstate(all="ignore"):
        residuals = log_loss - law.log_model(curve.inputs, params)
    return judge_residuals(curve.inputs[law.inputs[0]], residuals, log_loss)


def _judge_together(law: Law, results: list[FitResult], curves: list[CurveData]) -> list[Verdict | None]:
    """Verdicts of curves on the same points, one row each; None for a row to judge alone (a
    residual that is not finite, or points out of order: judge_residuals drops or sorts them)."""
    curve = curves[0]
    x = curve.inputs[law.inputs[0]]
    if len(results) == 1 or np.any(np.diff(x) < 0):
        return [None] * len(results)
    params = {k: np.array([[r.params[k]] for r in results]) for k in law.param_names}
    log_loss = np.log(np.stack([c.loss for c in curves]))
    with np.errstate(all="ignore"):
        residuals = log_loss - law.log_model(curve.inputs, params)
    finite = np.isfinite(residuals).all(axis=1)
    judged = iter(judge_rows(x, residuals[finite], log_loss[finite]) if finite.any() else [])
    return [next(judged) if ok else None for ok in finite]
