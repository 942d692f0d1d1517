"""User laws written as text in x and named parameters, e.g. "E + A * x**-alpha".

The text is compiled by our own whitelisted law language (formula.py), never by a general
evaluator, into a vectorised numpy function with exact derivatives; that function is the law's
log-evaluation for the batched engine and for lmfit's refinement alike, so an expression fits,
compares and reports like a registered law. Its parameters are fitted on a linear scale inside
the bounds given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from fitting.errors import InvalidInputError
from fitting.formula import Formula, compile_formula, excerpt
from fitting.law_types import Arrays, Law, LogModel, LogModelGrad, Param

_DEFAULT_BOUNDS = (-1e6, 1e6)
_N_STARTS = 12


def expression_law(
    expr: str,
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    starts: Mapping[str, float] | None = None,
    inputs: tuple[str, ...] = ("x",),
) -> Law:
    """A Law from an expression in `inputs` (default x). Bounds default to (-1e6, 1e6), starts to 1
    (inside bounds). Text outside the law language raises UnknownLawError naming the position."""
    formula = compile_formula(expr, tuple(inputs))  # positions in errors count from the text as given
    names = formula.params
    bounds = dict(bounds or {})
    starts = dict(starts or {})
    for field, given in (("bounds", bounds), ("starts", starts)):
        for key in given:
            if key not in names:
                raise InvalidInputError(
                    f"{excerpt(key)!r} is not a parameter of the law (parameters: {', '.join(names)})", field=field
                )
    for name, start in starts.items():
        if not np.isfinite(start):
            raise InvalidInputError(f"must be finite, got {start}", field=f"starts.{name}")
    params = tuple(_param(name, *bounds.get(name, _DEFAULT_BOUNDS)) for name in names)
    base = np.array([_start_inside(starts.get(p.name, 1.0), p) for p in params])

    def guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # The user's start and deterministic log-uniform perturbations of it, kept inside bounds.
        rng = np.random.default_rng(0)
        factors = np.exp(rng.uniform(np.log(0.05), np.log(20.0), size=(_N_STARTS - 1, len(params))))
        with np.errstate(over="ignore"):  # clipped to the bounds below
            candidates = np.vstack([base, base * factors])
        lo = np.array([p.lower for p in params])
        hi = np.array([p.upper for p in params])
        candidates = np.clip(candidates, lo, hi)
        return np.repeat(candidates[:, None, :], len(loss), axis=1)

    log_model, log_model_grad = _log_functions(formula)
    return Law(
        name=expr.strip(),
        formula=expr.strip(),
        inputs=formula.inputs,
        params=params,
        log_model=log_model,
        log_model_grad=log_model_grad,
        guess=guess,
        decreasing=True,
        description="user expression (the law language of fitting/formula.py)",
    )


def _log_functions(formula: Formula) -> tuple[LogModel, LogModelGrad]:
    """log L and its derivatives from the compiled formula; NaN where L <= 0 or overflows."""

    def env_and_shape(inputs: Arrays, p: Arrays) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
        env = {**{name: inputs[name] for name in formula.inputs}, **p}
        return env, np.broadcast(*env.values()).shape

    def log_model(inputs: Arrays, p: Arrays) -> np.ndarray:
        env, shape = env_and_shape(inputs, p)
        value = formula.evaluate(env)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.log(value), shape)

    def log_model_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        env, shape = env_and_shape(inputs, p)
        value, grads = formula.evaluate_with_gradient(env)
        with np.errstate(all="ignore"):  # d log L / dp = (dL/dp) / L
            log_value = np.broadcast_to(np.log(value), shape)
            return log_value, {name: np.broadcast_to(d / value, shape) for name, d in grads.items()}

    return log_model, log_model_grad


def _param(name: str, lo: float, hi: float) -> Param:
    if not math.isfinite(hi - lo):  # a wide finite box serves for "unbounded"; lmfit works with hi - lo
        raise InvalidInputError(f"must be finite and less than 1.7e308 apart, got ({lo}, {hi})", field=f"bounds.{name}")
    if not lo < hi:
        raise InvalidInputError(f"lower bound {lo} must be below upper bound {hi}", field=f"bounds.{name}")
    if math.isclose(lo, hi, rel_tol=1e-12, abs_tol=1e-12):  # lmfit takes such a box for a point
        raise InvalidInputError(f"({lo}, {hi}) leaves no room to fit; to pin {name}, use fixed", field=f"bounds.{name}")
    return Param(name, float(lo), float(hi))


def _start_inside(value: float, p: Param) -> float:
    if p.lower <= value <= p.upper:
        return float(value)
    return 0.5 * p.lower + 0.5 * p.upper  # the middle; (lower + upper) / 2 could overflow
