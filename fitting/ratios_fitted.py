"""How much faster a candidate learning process is than a baseline, from fitted laws
(Gu et al. 2024, §4; docs/paper.md). fitting/ratios_measured.py reads the same ratios off measured curves;
fitting/comparison.py puts both together for CompareCurves.

Fit-based quantities accept FitResults or plain parameter mappings ({"L0", "B", "beta"} for
step_power). When both fits carry bootstrap samples, the value comes with a 95 % percentile
interval over paired samples (row i of each; joint fits pair them by construction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fitting.errors import InvalidInputError
from fitting.laws import Law, get_law
from fitting.result import Estimate, FitResult, estimate_from

FitLike = FitResult | Mapping[str, float]
_X_LOW, _X_HIGH = 1e-12, 1e300  # search interval for numeric inversion


@dataclass(frozen=True)
class _Side:
    law: Law
    point: dict[str, np.ndarray]  # name -> 0-d array
    samples: dict[str, np.ndarray] | None  # name -> (n,)


def _side(fit: FitLike, field: str, law: str | Law = "step_power") -> _Side:
    if isinstance(fit, FitResult):
        the_law = get_law(fit.law)
        values = dict(fit.params)
        samples = fit.samples
    elif isinstance(fit, Mapping):
        the_law = get_law(law)
        values, samples = dict(fit), None
    else:
        raise InvalidInputError(f"expected a FitResult or a parameter mapping, got {type(fit).__name__}", field=field)
    missing = [n for n in the_law.param_names if n not in values]
    if missing:
        raise InvalidInputError(f"missing parameter {missing[0]!r} of {the_law.name}", field=field)
    bad = [n for n in the_law.param_names if not np.isfinite(values[n])]
    if bad:
        raise InvalidInputError(f"parameter {bad[0]!r} is not finite (was the fit unidentifiable?)", field=field)
    point = {n: np.asarray(float(values[n])) for n in the_law.param_names}
    by_name = None
    if samples is not None:
        by_name = {n: samples[:, j] for j, n in enumerate(the_law.param_names)}
    return _Side(the_law, point, by_name)


def _paired(base: _Side, cand: _Side) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Sample arrays for both sides, pairing row i with row i; None without samples."""
    if base.samples is None and cand.samples is None:
        return None
    n = min(len(next(iter(s.values()))) for s in (base.samples, cand.samples) if s is not None)
    pick = [
        {k: v[:n] for k, v in side.samples.items()}
        if side.samples is not None
        else {k: np.full(n, float(v)) for k, v in side.point.items()}
        for side in (base, cand)
    ]
    return pick[0], pick[1]


def steps_to_loss(law: Law, params: Mapping[str, np.ndarray], target: np.ndarray) -> np.ndarray:
    """Smallest x with L(x) <= target (inf if never). Closed form for step_power, else bisection."""
    target = np.asarray(target, dtype=float)
    if law.name == "step_power":
        gap = target - params["L0"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: never in float range
            t = params["B"] * np.where(gap > 0, gap, np.nan) ** (-1.0 / params["beta"])
        return np.where(gap > 0, t, np.inf)
    return invert_numeric(law, params, target)


def invert_numeric(law: Law, params: Mapping[str, np.ndarray], target: np.ndarray) -> np.ndarray:
    """Bisection in log x for a decreasing single-input law, vectorised over arrays of params."""
    if len(law.inputs) != 1:
        raise InvalidInputError(f"law {law.name} has inputs {law.inputs}: steps cannot be inverted", field="law")
    shape = np.broadcast(target, *params.values()).shape
    lo, hi = np.full(shape, np.log(_X_LOW)), np.full(shape, np.log(_X_HIGH))

    def loss_at(log_x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.exp(law.log_model({law.inputs[0]: np.exp(log_x), "log_" + law.inputs[0]: log_x}, params))

    never = ~(loss_at(hi) <= target)
    already = loss_at(lo) <= target
    for _ in range(200):  # interval width shrinks to below float precision in log x
        mid = 0.5 * (lo + hi)
        below = loss_at(mid) <= target
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    x = np.exp(hi)
    return np.where(never, np.inf, np.where(already, _X_LOW, x))


def _loss_at(side_law: Law, params: Mapping[str, np.ndarray], x: float) -> np.ndarray:
    name = side_law.inputs[0]
    log_loss = side_law.log_model({name: np.asarray(x), "log_" + name: np.log(np.asarray(x))}, params)
    with np.errstate(over="ignore"):  # a loss beyond the float range is inf: no step reaches it sooner
        return np.exp(log_loss)


def _ar_values(
    base: _Side, cand: _Side, pb: Mapping[str, np.ndarray], pc: Mapping[str, np.ndarray], horizon: float
) -> np.ndarray:
    both_step = base.law.name == cand.law.name == "step_power"
    if both_step and np.allclose(pb["L0"], pc["L0"], rtol=1e-12, atol=0.0):
        r = pb["beta"] / pc["beta"]  # closed form with shared L0
        with np.errstate(over="ignore"):  # AR beyond the float range: inf
            return np.exp((1 - r) * np.log(horizon) + r * np.log(pb["B"]) - np.log(pc["B"]))
    target = _loss_at(base.law, pb, horizon)
    with np.errstate(divide="ignore", over="ignore"):  # inf: reached at once, or beyond float range
        return horizon / steps_to_loss(cand.law, pc, target)


def acceleration_ratio(base: FitLike, cand: FitLike, horizon: float) -> Estimate:
    """AR(T) = T / min{t : L_cand(t) <= L_base(T)}.

    With step_power and a shared L0 this is T^(1 - beta1/beta2) B1^(beta1/beta2) / B2; otherwise
    the candidate's law is inverted (closed form for step_power, bisection for other laws).
    0 means the candidate never reaches the baseline's loss at T.
    """
    horizon = _check_horizon(horizon)
    b, c = _side(base, "base"), _side(cand, "cand")
    value = float(_ar_values(b, c, b.point, c.point, horizon))
    paired = _paired(b, c)
    samples = None if paired is None else _ar_values(b, c, paired[0], paired[1], horizon)
    return estimate_from(value, samples)


def speedup_at_loss(base: FitLike, cand: FitLike, target_loss: float) -> Estimate:
    """t_base(L*) / t_cand(L*): how many times fewer steps the candidate needs to reach L*."""
    if not (np.isfinite(target_loss) and target_loss > 0):
        raise InvalidInputError(f"must be a finite loss > 0, got {target_loss}", field="target_loss")
    b, c = _side(base, "base"), _side(cand, "cand")

    def ratio(pb: Mapping[str, np.ndarray], pc: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return steps_to_loss(b.law, pb, np.asarray(target_loss)) / steps_to_loss(c.law, pc, np.asarray(target_loss))

    paired = _paired(b, c)
    return estimate_from(float(ratio(b.point, c.point)), None if paired is None else ratio(*paired))


@dataclass(frozen=True)
class CoefficientImprovement:
    """|dB/B| and |dbeta/beta| of the candidate against the baseline (fractions, not %)."""

    B: Estimate
    beta: Estimate


def coefficient_improvement(base: FitLike, cand: FitLike) -> CoefficientImprovement:
    b, c = _side(base, "base"), _side(cand, "cand")
    for side, field in ((b, "base"), (c, "cand")):
        if not {"B", "beta"} <= set(side.law.param_names):
            raise InvalidInputError(f"law {side.law.name} has no B and beta", field=field)

    def rel(name: str, pb: Mapping[str, np.ndarray], pc: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.abs(pc[name] - pb[name]) / np.abs(pb[name])

    paired = _paired(b, c)
    return CoefficientImprovement(
        **{
            name: estimate_from(float(rel(name, b.point, c.point)), None if paired is None else rel(name, *paired))
            for name in ("B", "beta")
        }
    )


def _check_horizon(horizon: float) -> float:
    if not (np.isfinite(horizon) and horizon > 0):
        raise InvalidInputError(f"must be a finite step > 0, got {horizon}", field="horizon")
    return float(horizon)
