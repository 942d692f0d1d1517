"""What a law is: its parameters (bounds, fitting scale) and its log-evaluation and guess.

The registered laws (laws.py) and the laws compiled from user text (expression.py) are both
values of these types; the engine and the pipeline need nothing else of either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

Arrays = Mapping[str, np.ndarray]
LogModel = Callable[[Arrays, Arrays], np.ndarray]
LogModelGrad = Callable[[Arrays, Arrays], tuple[np.ndarray, dict[str, np.ndarray]]]
# guess(inputs (b, m) each, loss (b, m), mask (b, m)) -> starts, shape (S, b, P), natural values
Guess = Callable[[Arrays, np.ndarray, np.ndarray], np.ndarray]


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
        if self.log_scale:
            return float(np.log(self.lower)), float(np.log(self.upper))
        return self.lower, self.upper


@dataclass(frozen=True, eq=False)
class Law:
    """A scaling law. `log_model(inputs, params)` returns log L; `log_model_grad`, when given,
    returns log L and d log L / d(internal parameter) per parameter (else finite differences)."""

    name: str
    formula: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    log_model: LogModel
    guess: Guess
    log_model_grad: LogModelGrad | None = None
    decreasing: bool = True
    description: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def evaluate(self, x: np.ndarray | Arrays, params: Mapping[str, float]) -> np.ndarray:
        """L at the given inputs: an array for single-input laws, a mapping for multi-input."""
        inputs = x if isinstance(x, Mapping) else {self.inputs[0]: x}
        arrays = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
        values = {k: np.asarray(params[k], dtype=float) for k in self.param_names}
        return np.exp(self.log_model(arrays, values))
