"""What a law is: its parameters (bounds, fitting scale) and its log-evaluation and guess.

The registered laws (laws.py) and the laws compiled from user text (expression.py) are both
values of these types; the engine and the pipeline need nothing else of either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from fitting.errors import InvalidInputError

Arrays = Mapping[str, np.ndarray]
LogModel = Callable[[Arrays, Arrays], np.ndarray]
LogModelGrad = Callable[[Arrays, Arrays], tuple[np.ndarray, dict[str, np.ndarray]]]
# log_model_jacobian(inputs, params, out): writes d log L / d(internal parameter j) into out[:, j, :]
# (out is (b, P, m), the law's parameter order) and returns log L (b, m); None where it cannot
# (an overflow), and the caller falls back to log_model_grad
LogModelJacobian = Callable[[Arrays, Arrays, np.ndarray], np.ndarray | None]
# guess(inputs (b, m) each, loss (b, m), mask (b, m)) -> starts, shape (S, b, P), natural values
Guess = Callable[[Arrays, np.ndarray, np.ndarray], np.ndarray]
# derive(inputs of the whole curve (n,) each, fitted (n,) bool) -> the arrays log_model reads, each
# with the points on its first axis ((n,) or (n, K)); raises InvalidInputError naming the input
Derive = Callable[[Arrays, np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Param:
    """One law parameter. `log_scale` parameters are fitted as log(value) (positive, many decades)."""

    name: str
    lower: float
    upper: float
    log_scale: bool = False

    def to_internal(self, value: np.ndarray | float) -> np.ndarray:
        v = np.asarray(value, dtype=float)
        if self.log_scale:
            with np.errstate(divide="ignore"):
                return np.log(np.maximum(v, self.lower))
        return v

    def to_natural(self, internal: np.ndarray | float) -> np.ndarray:
        u = np.asarray(internal, dtype=float)
        return np.exp(u) if self.log_scale else u

    @property
    def internal_bounds(self) -> tuple[float, float]:
        if self.log_scale:  # (math, not numpy: every result asks, and numpy's per-call cost shows)
            return math.log(self.lower), math.log(self.upper)
        return self.lower, self.upper


@dataclass(frozen=True, eq=False)
class Law:
    """A scaling law. `log_model(inputs, params)` returns log L; `log_model_grad`, when given,
    returns log L and d log L / d(internal parameter) per parameter (else finite differences);
    `log_model_jacobian`, when given, the same written straight into the solver's Jacobian (one
    evaluation, no temporaries to stack: the fused form for the laws fitted most).

    `derive`, when given, turns a curve's inputs into what log_model reads, from the whole curve
    before a fitting range or subsampling selects points (the schedule laws' sums over every step:
    fitting/schedule.py). Its laws take a curve: inputs ("x", ...) with x strictly increasing.
    A derived array may have more axes after the points' ((n, K)); where curves of different K are
    stacked, zeros fill the missing entries, which must then contribute nothing.
    """

    name: str
    formula: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    log_model: LogModel
    guess: Guess
    log_model_grad: LogModelGrad | None = None
    log_model_jacobian: LogModelJacobian | None = None
    decreasing: bool = True
    description: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)
    derive: Derive | None = None

    @property
    def along_x(self) -> bool:
        """A law of one curve's points along x (steps): x strictly increasing, the range applies to x."""
        return len(self.inputs) == 1 or self.derive is not None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def evaluate(self, x: np.ndarray | Arrays, params: Mapping[str, float]) -> np.ndarray:
        """L at the given inputs: an array for single-input laws, a mapping for multi-input (for a law
        with `derive`, the whole curve: its summaries are computed from these points alone)."""
        inputs = x if isinstance(x, Mapping) else {self.inputs[0]: x}
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise InvalidInputError(f"law {self.name} takes inputs {', '.join(self.inputs)}", field=missing[0])
        arrays = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
        if self.derive is not None:
            arrays = self.derive(arrays, arrays["x"] > 0)
        values = {k: np.asarray(params[k], dtype=float) for k in self.param_names}
        return np.exp(self.log_model(arrays, values))
