"""Checks of the options every fit function takes."""

from __future__ import annotations

from collections.abc import Mapping

from fitting.engine import LOSS_FUNCTIONS
from fitting.errors import InvalidInputError
from fitting.laws import Law, get_law

METHODS = ("robust", "paper")


def resolve_law(
    law: str | Law,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    starts: Mapping[str, float] | None = None,
) -> Law:
    """A registered law, a Law, or an expression; bounds/starts apply to expressions."""
    if (bounds or starts) and isinstance(law, str) and not law.isidentifier():
        from fitting.expression import expression_law

        return expression_law(law, bounds=bounds, starts=starts)
    if bounds or starts:
        raise InvalidInputError("bounds and starts apply to expression laws only", field="bounds")
    return get_law(law)


def check_options(*, loss_fn: str, delta: float, bootstrap: int, method: str = "robust") -> None:
    if loss_fn not in LOSS_FUNCTIONS:
        raise InvalidInputError(f"unknown loss {loss_fn!r}; choose one of {', '.join(LOSS_FUNCTIONS)}", field="loss_fn")
    if not delta > 0:
        raise InvalidInputError(f"must be > 0, got {delta}", field="delta")
    if bootstrap < 0:
        raise InvalidInputError(f"must be >= 0, got {bootstrap}", field="bootstrap")
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}", field="method")
