"""User laws written as expressions in x and named parameters, e.g. "E + A * x**-alpha".

The expression is parsed and evaluated by lmfit's ExpressionModel (an asteval interpreter:
a restricted numpy-aware evaluator, never Python's eval), so it fits, compares and reports like
a registered law. Its parameters are fitted on a linear scale inside the bounds given.

An interpreter keeps state between evaluations (the parameter values, and the errors it met,
after which it evaluates nothing), so every law gets its own and clears its errors before each
evaluation: one request's failed evaluation must not fail the next, or another's fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from lmfit.models import ExpressionModel

from fitting.errors import InvalidInputError, UnknownLawError
from fitting.laws import Arrays, Law, Param

_DEFAULT_BOUNDS = (-1e6, 1e6)
_N_STARTS = 12


def expression_law(
    expr: str,
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    starts: Mapping[str, float] | None = None,
) -> Law:
    """A Law from an expression in x. Bounds default to (-1e6, 1e6), starts to 1 (inside bounds)."""
    names = _parse(expr.strip())
    model = ExpressionModel(expr.strip(), independent_vars=["x"])  # this law's own interpreter
    bounds = dict(bounds or {})
    starts = dict(starts or {})
    for field, given in (("bounds", bounds), ("starts", starts)):
        for key in given:
            if key not in names:
                raise InvalidInputError(
                    f"{key!r} is not a parameter of {expr!r} (parameters: {', '.join(names)})", field=field
                )
    for name, start in starts.items():
        if not np.isfinite(start):
            raise InvalidInputError(f"must be finite, got {start}", field=f"starts.{name}")
    params = []
    for name in names:
        lo, hi = bounds.get(name, _DEFAULT_BOUNDS)
        if not math.isfinite(hi - lo):  # a wide finite box serves for "unbounded"; lmfit works with hi - lo
            raise InvalidInputError(
                f"must be finite and less than 1.7e308 apart, got ({lo}, {hi})", field=f"bounds.{name}"
            )
        if not lo < hi:
            raise InvalidInputError(f"lower bound {lo} must be below upper bound {hi}", field=f"bounds.{name}")
        if math.isclose(lo, hi, rel_tol=1e-12, abs_tol=1e-12):  # lmfit takes such a box for a point
            raise InvalidInputError(
                f"({lo}, {hi}) leaves no room to fit; to pin {name}, use fixed", field=f"bounds.{name}"
            )
        params.append(Param(name, float(lo), float(hi)))
    base = np.array([_start_inside(starts.get(p.name, 1.0), p) for p in params])

    def log_model(inputs: Arrays, p: Arrays) -> np.ndarray:
        shape = np.broadcast(inputs["x"], *p.values()).shape
        model.asteval.error = []
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(model.func(x=inputs["x"], **p), dtype=float)
                return np.broadcast_to(np.log(value), shape)
        except Exception:  # the interpreter's own errors (bad call, overflow): no value here
            return np.full(shape, np.nan)

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

    return Law(
        name=expr.strip(),
        formula=expr.strip(),
        inputs=("x",),
        params=tuple(params),
        log_model=log_model,
        guess=guess,
        decreasing=True,
        description="user expression (lmfit ExpressionModel)",
    )


@lru_cache(maxsize=64)
def _parse(expr: str) -> tuple[str, ...]:
    """The expression's parameter names, once it is known to parse and evaluate."""
    try:
        model = ExpressionModel(expr, independent_vars=["x"])
    except (ValueError, SyntaxError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnknownLawError(f"not a registered law nor a valid expression in x: {first}", field="law") from exc
    if model.asteval.error:
        msg = model.asteval.error[0].get_error()[1].strip().splitlines()[-1]
        raise UnknownLawError(f"cannot parse expression {expr!r}: {msg}", field="law")
    if not model.param_names:
        raise UnknownLawError(f"expression {expr!r} has no parameters", field="law")
    private = [n for n in model.param_names if n.startswith("_")]
    if private:
        raise UnknownLawError(f"parameter names may not start with '_': {private[0]!r}", field="law")
    try:  # a trial evaluation catches calls of parameters, unknown functions and the like
        trial = np.asarray(model.func(x=np.array([1.0, 2.0]), **dict.fromkeys(model.param_names, 1.0)), dtype=float)
    except Exception as exc:
        raise UnknownLawError(f"cannot evaluate expression {expr!r}: {exc}", field="law") from exc
    if trial.shape not in ((), (2,)):
        raise UnknownLawError(f"expression {expr!r} does not give one value per x", field="law")
    return tuple(model.param_names)


def _start_inside(value: float, p: Param) -> float:
    if p.lower <= value <= p.upper:
        return float(value)
    return 0.5 * p.lower + 0.5 * p.upper  # the middle; (lower + upper) / 2 could overflow
