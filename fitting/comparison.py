"""compare_curves: a baseline learning curve against candidates, everything Gu et al. 2024, §4
reports, both from fitted laws (fitting/ratios_fitted.py) and read off the measured curves
(fitting/ratios_measured.py). The service's CompareCurves wires exactly this."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Unpack

import numpy as np

from fitting.compression import CR_UNITS, auc, compression_ratio
from fitting.errors import FitImpossibleError, InvalidInputError
from fitting.joint import fit_joint
from fitting.law_types import Law
from fitting.options import FitOptions, JointKeywords, options_from
from fitting.ratios_fitted import CoefficientImprovement, acceleration_ratio, coefficient_improvement, speedup_at_loss
from fitting.ratios_measured import (
    MeasuredCurve,
    MeasuredRatio,
    Reach,
    measure_curve,
    measured_acceleration,
    measured_speedup,
)
from fitting.result import Estimate, FitResult
from fitting.shared_floor import SharedFloorTest, check_shared_floor
from fitting.verdict import Verdict


@dataclass(frozen=True)
class CurveSummary:
    """AUC in nats x x-units (a plain sum for curves logged at every step), CR (NaN without |V|)."""

    auc: float
    cr: float
    cr_units: str


@dataclass(frozen=True)
class HorizonAR:
    horizon: float
    ar_fit: Estimate
    ar_measured: MeasuredRatio  # read off the smoothed curves; a bound where never reached

    @property
    def ar_empirical(self) -> float:
        """Deprecated: ar_measured.value (the measured AR as a plain number, NaN where it is not one)."""
        warnings.warn("HorizonAR.ar_empirical is deprecated; use ar_measured.value", DeprecationWarning, stacklevel=2)
        return self.ar_measured.value


@dataclass(frozen=True)
class SpeedUpAt:
    target_loss: float
    speedup: Estimate  # from the fits
    measured: MeasuredRatio  # read off the smoothed curves


@dataclass(frozen=True, eq=False)
class CandidateResult:
    fit: FitResult
    accelerations: list[HorizonAR]
    speedups: list[SpeedUpAt]
    improvement: CoefficientImprovement | None  # laws with B and beta only
    summary: CurveSummary
    # may its fit-based numbers be read? both laws describe their curves, and fitted and measured agree
    verdict: Verdict | None = None


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    baseline_fit: FitResult
    baseline_summary: CurveSummary
    candidates: list[CandidateResult]
    # whether L0 was shared, and why: tested where the caller left the choice to the comparison
    shared_floor: SharedFloorTest | None = None


def summarize_curve(x: np.ndarray, loss: np.ndarray, vocab_size: int) -> CurveSummary:
    every_step = x.size > 1 and bool(np.all(np.diff(x) == 1.0))
    area = auc(loss) if every_step or x.size < 2 else auc(loss, x)
    cr = math.nan
    if vocab_size >= 2:
        cr = (
            compression_ratio(loss, vocab_size)
            if every_step or x.size < 2
            else compression_ratio(loss, vocab_size, x=x)
        )
    return CurveSummary(auc=area, cr=cr, cr_units=CR_UNITS["paper"])


def compare_curves(
    baseline: tuple[Any, Any],
    candidates: Sequence[tuple[Any, Any]],
    *,
    law: str | Law | None = None,
    horizons: Sequence[float] | None = None,
    target_losses: Sequence[float] = (),
    vocab_sizes: Sequence[int] | None = None,
    options: FitOptions | None = None,
    test_floor: bool | None = None,
    **keywords: Unpack[JointKeywords],
) -> ComparisonResult:
    """Joint fit (shared parameters, paired bootstrap), then per candidate: AR at each horizon
    (default: the baseline's last x times 1, 10, 100, 1000) from the fits and, inside the
    baseline's measured range, read off the measured curves (both with `bootstrap` resamples),
    speed-ups at the target losses both ways, coefficient improvements, AUC and CR of every curve.
    vocab_sizes: |V| per curve (baseline first) for CR; 0 leaves CR NaN. How to fit: `options`, or
    fit_joint's keywords, here with 200 resamples by default. test_floor: whether one shared L0 is
    tested first and shared only if the data do not reject it (fitting/shared_floor.py); by
    default when neither `options` nor `shared` says what to share."""
    if not candidates:
        raise InvalidInputError("at least one candidate curve is needed", field="candidates")
    chosen = options_from(law, options, keywords, joint=True, bootstrap=200)
    the_law = chosen.resolve_law()
    floor_test = None
    if test_floor is None:  # by default where the caller left the sharing open
        test_floor = options is None and "shared" not in keywords
    if test_floor and "L0" in the_law.param_names:
        # the paper shares L0; tested first, as a policy can lower the floor itself (shared_floor.py)
        floor_test = check_shared_floor([baseline, *candidates], chosen)
        chosen = chosen.sharing(floor_test.shared)
    if len(the_law.inputs) != 1:  # AR and speed-ups invert L(x): one input only
        raise InvalidInputError(
            f"law {the_law.name} has inputs {', '.join(the_law.inputs)}; comparisons need a law of x alone",
            field="law",
        )
    curves = [baseline, *candidates]
    sizes = list(vocab_sizes) if vocab_sizes is not None else [0] * len(curves)
    if len(sizes) != len(curves):
        raise InvalidInputError(f"{len(sizes)} sizes for {len(curves)} curves", field="vocab_sizes")
    fits = fit_joint(curves, options=chosen)
    for i, fit in enumerate(fits):
        if not all(math.isfinite(v) for v in fit.params.values()):
            raise FitImpossibleError(f"{fit.status.value}: {fit.message}", field=f"curves[{i}]")
    arrays = [(np.asarray(x, dtype=float), np.asarray(loss, dtype=float)) for x, loss in curves]
    # read on a log scale: points at x <= 0 (a log's step 0) are outside every range the fits accept
    positive = [(x[x > 0], loss[x > 0]) for x, loss in arrays]
    measured = _measured_curves(positive, chosen.bootstrap, chosen.seed)
    base_x, base_loss = arrays[0]
    last = float(base_x[-1])
    horizon_list = [last * f for f in (1, 10, 100, 1000)] if horizons is None else [float(h) for h in horizons]
    has_rates = {"B", "beta"} <= set(the_law.param_names)
    out = []
    base = measured[0]
    for (x, loss), fit, size, cand in zip(arrays[1:], fits[1:], sizes[1:], measured[1:], strict=True):
        accelerations = [
            HorizonAR(h, acceleration_ratio(fits[0], fit, h), measured_acceleration(base, cand, h))
            for h in horizon_list
        ]
        speedups = [
            SpeedUpAt(float(t), speedup_at_loss(fits[0], fit, t), measured_speedup(base, cand, float(t)))
            for t in target_losses
        ]
        out.append(
            CandidateResult(
                fit=fit,
                accelerations=accelerations,
                speedups=speedups,
                improvement=coefficient_improvement(fits[0], fit) if has_rates else None,
                summary=summarize_curve(x, loss, size),
                verdict=judge_comparison(fits[0], fit, accelerations, speedups),
            )
        )
    return ComparisonResult(fits[0], summarize_curve(base_x, base_loss, sizes[0]), out, floor_test)


AGREE_WITHOUT_INTERVALS = 0.05  # relative difference of two point values taken as agreement


def judge_agreement(fitted: Estimate, measured: Estimate, what: str) -> tuple[bool, str]:
    """Whether a fit-based number and the same number measured on the curves agree: their
    intervals overlap, or, without intervals, their values are within 5 % of each other."""
    if not (math.isfinite(fitted.value) and math.isfinite(measured.value)):
        return True, f"{what}: nothing to compare"
    if fitted.has_interval and measured.has_interval:
        agree = fitted.low <= measured.high and measured.low <= fitted.high
        how = f"{fitted:.3g} vs {measured:.3g}"  # value [low, high] each
    else:
        scale = max(abs(fitted.value), abs(measured.value), 1e-300)
        agree = abs(fitted.value - measured.value) / scale <= AGREE_WITHOUT_INTERVALS
        how = f"{fitted.value:.3g} vs {measured.value:.3g}"
    word = "agree" if agree else "disagree"
    return agree, f"{what} from the fits and measured {word}: {how}"


def judge_comparison(
    base: FitResult, cand: FitResult, accelerations: Sequence[HorizonAR], speedups: Sequence[SpeedUpAt]
) -> Verdict:
    """Whether a candidate's fit-based numbers may be read: both fitted laws describe their curves,
    and where a ratio is also measured on the curves, the two agree (fitting/verdict.py)."""
    problems = [
        f"{who}: {fit.verdict.reason}"
        for who, fit in (("baseline", base), ("candidate", cand))
        if fit.verdict is not None and not fit.verdict.good
    ]
    checks: list[tuple[str, Estimate, MeasuredRatio, float | None]]
    checks = [(f"AR at {a.horizon:.3g}", a.ar_fit, a.ar_measured, a.horizon) for a in accelerations]
    checks += [(f"speed-up at loss {s.target_loss:.3g}", s.speedup, s.measured, None) for s in speedups]
    for what, fitted, measured, horizon in checks:
        if measured.reach is not Reach.MEASURED:
            continue
        agree, reason = judge_agreement(fitted, Estimate(measured.value, measured.low, measured.high), what)
        if not agree:
            problems.append(reason + _below_range(horizon, measured.value, cand))
    if problems:
        return Verdict(False, "; ".join(problems))
    return Verdict(True, "both laws describe their curves; fitted and measured ratios agree where both exist")


def _below_range(horizon: float | None, ar: float, cand: FitResult) -> str:
    """Why an AR from the fits can miss the measured one: the candidate reaches the baseline's loss
    at horizon / AR, and where that lies before its fitted range the fitted AR reads the law
    outside the points it was fitted to (a large AR with x_min at a tenth of the horizon)."""
    if horizon is None or not ar > 0 or not horizon / ar < cand.x_range[0]:
        return ""
    return (
        f" (the candidate reaches the baseline's final loss at x {horizon / ar:.3g}, before its fitted range "
        f"starts at {cand.x_range[0]:.3g}: the fitted AR extrapolates there; a smaller x_min fits that part)"
    )


def _measured_curves(arrays: list[tuple[np.ndarray, np.ndarray]], bootstrap: int, seed: int) -> list[MeasuredCurve]:
    """Each curve smoothed once (with its own bootstrap stream: two runs have independent noise);
    a curve given twice is the same measured curve, so it compares as exactly 1 with itself."""
    out: list[MeasuredCurve] = []
    for i, (x, loss) in enumerate(arrays):
        same = (j for j, (x0, l0) in enumerate(arrays[:i]) if np.array_equal(x0, x) and np.array_equal(l0, loss))
        twin = next(same, -1)
        if twin >= 0:
            out.append(out[twin])
            continue
        fields = (f"curves[{i}].x", f"curves[{i}].loss")  # as fit_joint names them
        out.append(measure_curve(x, loss, bootstrap=bootstrap, seed=seed + i, fields=fields))
    return out
