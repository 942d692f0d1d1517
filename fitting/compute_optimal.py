"""compute_optimal: a fitted law L(N, D) turned into a plan for compute budgets (Approach 3 of
Hoffmann et al. 2022): the model size N*, tokens D* = C / (k N*) and the loss reached, for each
budget C, with the fit's bootstrap resamples carried through to 95 % intervals.

For `chinchilla`, E + A/N^alpha + B/D^beta, minimising over N with D = C / (k N) gives

    N*(C) = G (C/k)^a,  D*(C) = G^-1 (C/k)^b,  G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta / (alpha + beta),  b = alpha / (alpha + beta),

k the FLOPs per parameter and token (6: a forward and backward pass). Any other law whose inputs
are N and D is minimised numerically, over a log-spaced grid of N refined by golden section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.errors import InvalidInputError, LimitExceededError, UnknownLawError
from fitting.expression import expression_law
from fitting.law_types import Law
from fitting.laws import get_law
from fitting.result import Estimate, FitResult, estimate_from
from fitting.validation import as_float_array, check_finite, check_positive

DEFAULT_FLOPS_PER_TOKEN = 6.0
MAX_BUDGETS = 10_000  # budgets x resamples x grid is the numeric path's work
_GRID = 241  # log-spaced N per budget for laws without a closed form
_BLOCK = 2_000_000  # grid values held at once
_GOLDEN_STEPS = 48  # shrinks the bracket of two grid steps by 0.618^48 ~ 1e-10
_SLOPE_HALF_DECADE = 0.5  # a numeric law's exponents: the slope over a decade around the budgets


@dataclass(frozen=True)
class PlanRow:
    """One budget's plan. `extrapolation`: how many orders of magnitude the budget lies outside
    the compute of the fitted points (0 inside; NaN where those points were not given)."""

    budget: float
    n_opt: Estimate
    d_opt: Estimate
    tokens_per_param: Estimate
    loss: Estimate
    extrapolation: float


@dataclass(frozen=True, eq=False)
class ComputePlan:
    """The plan for each budget, the exponents of N* ~ C^a and D* ~ C^b, and how it was made.

    `n_resamples`: the fit's resamples the intervals come from (0: no intervals); `method`:
    "closed form" (chinchilla) or "numeric"; `fitted_compute`: the least and most compute
    k N D among the fitted points ((NaN, NaN) when not given)."""

    law: str
    flops_per_token: float
    rows: tuple[PlanRow, ...]
    a: Estimate
    b: Estimate
    method: str
    fitted_compute: tuple[float, float]
    n_resamples: int
    message: str = ""


def plan_law(law_name: str | Law, field: str = "fit.law") -> Law:
    """The law of a fit, if a plan can be made from it: its inputs are N and D. A fit keeps an
    expression law as its text, which get_law reads as a law in x; read in N and D, it plans."""
    try:
        law = get_law(law_name)
    except UnknownLawError:
        try:
            law = expression_law(str(law_name), inputs=("N", "D"))
        except UnknownLawError:
            raise UnknownLawError(
                "is neither a registered law nor an expression in N and D: a compute-optimal plan needs a law of "
                "model size N and tokens D (such as chinchilla)",
                field=field,
            ) from None
    if set(law.inputs) != {"N", "D"} or law.derive is not None:
        raise InvalidInputError(
            f"law {law.name} has inputs {', '.join(law.inputs)}; a compute-optimal plan needs a law of model "
            "size N and tokens D (such as chinchilla, E + A/N^alpha + B/D^beta)",
            field=field,
        )
    return law


def check_budgets(budgets: Any, field: str = "budgets") -> np.ndarray:
    """Compute budgets in FLOPs: one or more, finite and > 0, at most MAX_BUDGETS."""
    values = as_float_array([budgets] if isinstance(budgets, int | float) else budgets, field)
    if values.size == 0:
        raise InvalidInputError("give at least one compute budget (FLOPs)", field=field)
    if values.size > MAX_BUDGETS:
        raise LimitExceededError(f"{values.size} budgets; one plan takes at most {MAX_BUDGETS}", field=field)
    check_finite(values, field)
    check_positive(values, field, "a budget is FLOPs spent")
    return values


def check_flops_per_token(value: Any, field: str = "flops_per_token") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"must be a finite number > 0 (6 for a forward and backward pass), got {value!r}",
                                field=field)  # fmt: skip
    return float(value)


def compute_optimal(
    fit: FitResult | Mapping[str, float],
    budgets: Any,
    flops_per_token: float = DEFAULT_FLOPS_PER_TOKEN,
    *,
    data: Mapping[str, Any] | None = None,
) -> ComputePlan:
    """The compute-optimal N*, D*, D*/N* and loss for each budget (FLOPs), from a fit of a law in
    N and D (a FitResult, or chinchilla's parameters as a mapping), with 95 % intervals from the
    fit's bootstrap resamples when it has them. `data`: the inputs the law was fitted on (a
    mapping or DataFrame with N and D), for the extrapolation of each budget; optional."""
    law = plan_law(fit.law if isinstance(fit, FitResult) else "chinchilla")
    params = fit.params if isinstance(fit, FitResult) else fit
    missing = [n for n in law.param_names if n not in params or not math.isfinite(float(params[n]))]
    if missing:
        status = f" (status {fit.status.value}: {fit.message})" if isinstance(fit, FitResult) else ""
        raise InvalidInputError(f"has no value of {', '.join(missing)}{status}; nothing to plan from", field="fit")
    k = check_flops_per_token(flops_per_token)
    c = check_budgets(budgets)
    fitted = _fitted_compute(data, k)
    estimate = np.array([[float(params[n]) for n in law.param_names]])  # (1, P)
    samples = fit.samples if isinstance(fit, FitResult) and fit.samples is not None else None
    if samples is not None:
        samples = samples[np.isfinite(samples).all(axis=1)]
        samples = samples if len(samples) >= 2 else None
    optimum = _closed_form if law.name == "chinchilla" else _numeric(law)
    value = _available(optimum(law.param_names, estimate, c, k))
    drawn = _available(optimum(law.param_names, samples, c, k)) if samples is not None else None
    rows = []
    for j, budget in enumerate(c.tolist()):

        def est(name: str, j: int = j) -> Estimate:
            return estimate_from(float(value[name][0, j]), None if drawn is None else drawn[name][:, j])

        n_opt, d_opt = est("N"), est("D")
        ratio = estimate_from(
            float(value["D"][0, j] / value["N"][0, j]), None if drawn is None else drawn["D"][:, j] / drawn["N"][:, j]
        )
        rows.append(PlanRow(budget, n_opt, d_opt, ratio, est("loss"), _decades_outside(budget, fitted)))
    a, b = _exponents(law, estimate, samples, c, k)
    unplanned = [r.budget for r in rows if not math.isfinite(r.n_opt.value)]
    message = "" if samples is not None else "no resamples in the fit: no intervals (fit with bootstrap > 0)"
    if unplanned:
        note = f"no interior minimum over N at {len(unplanned)} budget(s), first {unplanned[0]:.3g}"
        message = f"{message}; {note}" if message else note
    return ComputePlan(
        law=law.name, flops_per_token=k, rows=tuple(rows), a=a, b=b,
        method="closed form" if law.name == "chinchilla" else "numeric", fitted_compute=fitted,
        n_resamples=0 if samples is None else len(samples), message=message,
    )  # fmt: skip


Optimum = dict[str, np.ndarray]  # "N", "D", "loss": (S, B) each


def _available(optimum: Optimum) -> Optimum:
    """NaN ("not available") where an optimum overflowed: a budget of 1e300 FLOPs has no finite N*."""
    return {key: np.where(np.isfinite(v), v, np.nan) for key, v in optimum.items()}


def _closed_form(names: tuple[str, ...], p: np.ndarray, c: np.ndarray, k: float) -> Optimum:
    """chinchilla's optimum for each parameter row (S, P) and budget (B,), in logs throughout."""
    col = {n: p[:, i, None] for i, n in enumerate(names)}
    e, big_a, alpha, big_b, beta = col["E"], col["A"], col["alpha"], col["B"], col["beta"]
    log_c = (np.log(c) - math.log(k))[None, :]  # c / k itself may overflow
    with np.errstate(all="ignore"):  # a resample at a bound (alpha, beta -> 0) gives NaN, left out
        log_g = (np.log(alpha) + np.log(big_a) - np.log(beta) - np.log(big_b)) / (alpha + beta)
        log_n = log_g + beta / (alpha + beta) * log_c
        log_d = log_c - log_n
        loss = e + np.exp(np.log(big_a) - alpha * log_n) + np.exp(np.log(big_b) - beta * log_d)
        return {"N": np.exp(log_n), "D": np.exp(log_d), "loss": loss}


def _numeric(law: Law) -> Any:
    def optimum(names: tuple[str, ...], p: np.ndarray, c: np.ndarray, k: float) -> Optimum:
        return minimise_over_n(law, p, c, k)

    return optimum


def minimise_over_n(law: Law, p: np.ndarray, c: np.ndarray, k: float) -> Optimum:
    """min over N of L(N, C/(kN)) for each parameter row (S, P) and budget (B,), in blocks of rows
    that keep the grid to about _BLOCK values."""
    rows = max(1, _BLOCK // (len(c) * _GRID))
    parts = [_minimise_block(law, p[i : i + rows], c, k) for i in range(0, len(p), rows)]
    return {key: np.concatenate([part[key] for part in parts]) for key in ("N", "D", "loss")}


def _minimise_block(law: Law, p: np.ndarray, c: np.ndarray, k: float) -> Optimum:
    """The best of a log-spaced grid of N from 1 parameter to C/k (one token), refined by golden
    section between its neighbours. A minimum on the grid's edge is no interior optimum: NaN."""
    log_c = np.log(c) - math.log(k)  # (B,); c / k itself may overflow
    s, nb = len(p), len(c)
    columns = {n: p[:, i, None, None] for i, n in enumerate(law.param_names)}  # (S, 1, 1)
    grid = np.linspace(0.0, 1.0, _GRID)[None, :] * log_c[:, None]  # (B, G): log N

    def log_loss(log_n: np.ndarray) -> np.ndarray:  # log_n (S, B, G) or (B, G)
        inputs = {"N": np.exp(log_n), "D": np.exp(log_c[:, None] - log_n)}
        with np.errstate(all="ignore"):
            out = law.log_model(inputs, columns)
        return np.where(np.isfinite(out), out, np.inf)

    values = np.broadcast_to(log_loss(grid), (s, nb, _GRID))
    best = np.argmin(values, axis=2)  # (S, B)
    interior = (best > 0) & (best < _GRID - 1) & np.isfinite(np.min(values, axis=2))
    step = log_c / (_GRID - 1)  # (B,)
    centre = np.take_along_axis(np.broadcast_to(grid, (s, nb, _GRID)), best[..., None], axis=2)[..., 0]
    lo, hi = centre - step, centre + step
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(_GOLDEN_STEPS):
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        left = log_loss(m1[..., None])[..., 0] <= log_loss(m2[..., None])[..., 0]
        hi, lo = np.where(left, m2, hi), np.where(left, lo, m1)
    log_n = np.where(interior, (lo + hi) / 2.0, np.nan)
    with np.errstate(all="ignore"):
        loss = np.exp(log_loss(log_n[..., None])[..., 0])
    return {"N": np.exp(log_n), "D": np.exp(log_c[None, :] - log_n), "loss": np.where(interior, loss, np.nan)}


def _exponents(
    law: Law, estimate: np.ndarray, samples: np.ndarray | None, c: np.ndarray, k: float
) -> tuple[Estimate, Estimate]:
    """a and b of N* ~ C^a, D* ~ C^b: beta/(alpha+beta) and alpha/(alpha+beta) for chinchilla;
    otherwise the slope of log N* over a decade around the budgets' geometric mean (a + b = 1)."""
    if law.name == "chinchilla":
        alpha, beta = law.param_names.index("alpha"), law.param_names.index("beta")

        def share(p: np.ndarray) -> np.ndarray:
            return p[:, beta] / (p[:, alpha] + p[:, beta])

    else:
        centre = math.exp(float(np.mean(np.log(c))))
        ends = centre * 10.0 ** np.array([-_SLOPE_HALF_DECADE, _SLOPE_HALF_DECADE])

        def share(p: np.ndarray) -> np.ndarray:
            n = minimise_over_n(law, p, ends, k)["N"]
            return np.log10(n[:, 1] / n[:, 0]) / (2 * _SLOPE_HALF_DECADE)

    a_value = float(share(estimate)[0])
    a_draws = None if samples is None else share(samples)
    return estimate_from(a_value, a_draws), estimate_from(1.0 - a_value, None if a_draws is None else 1.0 - a_draws)


def _fitted_compute(data: Mapping[str, Any] | None, k: float) -> tuple[float, float]:
    """The least and most compute k N D among the fitted points, or (NaN, NaN) without them."""
    if data is None:
        return math.nan, math.nan
    arrays = {}
    for name in ("N", "D"):
        if name not in data:
            raise InvalidInputError(
                f"missing input {name!r}: give the N and D the law was fitted on", field=f"data.{name}"
            )
        arrays[name] = as_float_array(data[name], f"data.{name}")
        check_finite(arrays[name], f"data.{name}")
        check_positive(arrays[name], f"data.{name}", "sizes and token counts are positive")
    if arrays["N"].size != arrays["D"].size or arrays["N"].size == 0:
        raise InvalidInputError("N and D must be of one length, at least one point", field="data")
    with np.errstate(over="ignore"):
        compute = k * arrays["N"] * arrays["D"]
    low, high = float(compute.min()), float(compute.max())
    return (low, high) if math.isfinite(high) and low > 0 else (math.nan, math.nan)  # overflowed: unknown


def _decades_outside(budget: float, fitted: tuple[float, float]) -> float:
    low, high = fitted
    if math.isnan(low):
        return math.nan
    # in logs: a ratio of budgets 1e-300 and 1e23 underflows to 0
    return max(0.0, math.log10(budget) - math.log10(high), math.log10(low) - math.log10(budget))
