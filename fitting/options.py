"""Checks of the options every fit function takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fitting.engine import DELTA_RANGE, LOSS_FUNCTIONS
from fitting.errors import InvalidInputError
from fitting.expression import expression_law
from fitting.law_types import Law
from fitting.laws import get_law
from fitting.validation import CurveData, check_fixed, prepare_curve

METHODS = ("robust", "paper")


def resolve_law(
    law: str | Law,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    starts: Mapping[str, float] | None = None,
) -> Law:
    """A registered law, a Law, or an expression; bounds/starts apply to expressions."""
    if (bounds or starts) and isinstance(law, str) and not law.isidentifier():
        return expression_law(law, bounds=bounds, starts=starts)
    if bounds or starts:
        raise InvalidInputError("bounds and starts apply to expression laws only", field="bounds")
    return get_law(law)


def check_options(*, loss_fn: str, delta: float | None, bootstrap: int, method: str = "robust", seed: int = 0) -> None:
    if loss_fn not in LOSS_FUNCTIONS:
        raise InvalidInputError(f"unknown loss {loss_fn!r}; choose one of {', '.join(LOSS_FUNCTIONS)}", field="loss_fn")
    if delta is not None and not DELTA_RANGE[0] <= delta <= DELTA_RANGE[1]:  # None: estimated
        raise InvalidInputError(f"must be within [{DELTA_RANGE[0]:g}, {DELTA_RANGE[1]:g}], got {delta}", field="delta")
    if bootstrap < 0:
        raise InvalidInputError(f"must be >= 0, got {bootstrap}", field="bootstrap")
    if seed < 0:
        raise InvalidInputError(f"must be >= 0, got {seed}", field="seed")
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}", field="method")


def prepare_fit(
    curves: Sequence[tuple[Any, Any]],
    law: str | Law,
    *,
    name_curves: bool,
    x_min: float | None,
    x_max: float | None,
    fixed: Mapping[str, float] | None,
    loss_fn: str,
    delta: float | None,
    bootstrap: int,
    seed: int,
    method: str,
    bounds: Mapping[str, tuple[float, float]] | None,
    starts: Mapping[str, float] | None,
) -> tuple[Law, dict[str, float], list[CurveData]]:
    """Every check a fit entry point makes: options, law, fixed values, then each curve.

    name_curves: errors say "curves[i].loss" rather than "loss".
    """
    check_options(loss_fn=loss_fn, delta=delta, bootstrap=bootstrap, method=method, seed=seed)
    the_law = resolve_law(law, bounds, starts)
    pinned = check_fixed(the_law, fixed)
    n_free = len(the_law.params) - len(pinned)
    data = [
        prepare_curve(
            x, loss, the_law, x_min=x_min, x_max=x_max, n_free=n_free, prefix=f"curves[{i}]." if name_curves else ""
        )
        for i, (x, loss) in enumerate(curves)
    ]
    return the_law, pinned, data
