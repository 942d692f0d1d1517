"""FitOptions: the options every fit entry point takes, checked once, as one frozen object.

    FitOptions(law, x_min, x_max, loss_fn, delta, bootstrap, seed, method, params, resample_bins)
     +-- params: name -> ParamSpec(fixed, bounds, start, shared)

fit_curve, fit_batch, fit_joint and compare_curves take `options=FitOptions(...)` or the same
options as keywords (FitKeywords, JointKeywords); options_from turns either into one FitOptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from fitting.engine import DELTA_RANGE, LOSS_FUNCTIONS
from fitting.errors import InvalidInputError
from fitting.expression import expression_law
from fitting.law_types import Law
from fitting.laws import get_law
from fitting.validation import check_range

METHODS = ("robust", "paper")
MIN_BINS = 16  # fewer bins than this would not show a curve's shape to its resamples' fits


@dataclass(frozen=True)
class ParamSpec:
    """What a caller says about one parameter; None (False) leaves it to the law.

    fixed: pinned at this value. bounds, start: the box and starting value of an expression law's
    parameter. shared: one value for every curve of a joint fit."""

    fixed: float | None = None
    bounds: tuple[float, float] | None = None
    start: float | None = None
    shared: bool = False


@dataclass(frozen=True)
class FitOptions:
    """How to fit. Construction checks every option that needs no law and no curve; errors name
    the option as the fit functions' keywords do ("delta", "x_min").

    law: a registered name, an expression in x, or a Law. Points with x_min <= x <= x_max are
    fitted. loss_fn: "huber", "linear", "soft_l1" or "cauchy" on log residuals, with scale delta
    in log-loss units (None: estimated from the residuals). bootstrap: residual-bootstrap
    resamples for percentile intervals (0: Wald). method: "robust" (multi-start + lmfit
    refinement) or "paper" (the Learning-Law paper's grid and log-linear regression, step_power
    only). params: per parameter name, what is fixed, bounded, started from or shared.
    resample_bins: the log-spaced bins per curve a long curve's resamples are refitted on (None:
    fitting/binned.py's default past its BIN_ABOVE points; 0: every point, the slow way)."""

    law: str | Law = "step_power"
    x_min: float | None = None
    x_max: float | None = None
    loss_fn: str = "huber"
    delta: float | None = None
    bootstrap: int = 0
    seed: int = 0
    method: str = "robust"
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    resample_bins: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))  # a copy: the caller's dict may change later
        if self.loss_fn not in LOSS_FUNCTIONS:
            raise InvalidInputError(
                f"unknown loss {self.loss_fn!r}; choose one of {', '.join(LOSS_FUNCTIONS)}", field="loss_fn"
            )
        low, high = DELTA_RANGE
        if self.delta is not None and not low <= self.delta <= high:  # None: estimated
            raise InvalidInputError(f"must be within [{low:g}, {high:g}], got {self.delta}", field="delta")
        if self.bootstrap < 0:
            raise InvalidInputError(f"must be >= 0, got {self.bootstrap}", field="bootstrap")
        if self.seed < 0:
            raise InvalidInputError(f"must be >= 0, got {self.seed}", field="seed")
        if self.method not in METHODS:
            raise InvalidInputError(
                f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}", field="method"
            )
        bins = self.resample_bins
        if bins is not None and (bins < 0 or 0 < bins < MIN_BINS):
            raise InvalidInputError(
                f"must be 0 (every point) or at least {MIN_BINS}, got {self.resample_bins}", field="resample_bins"
            )
        check_range(self.x_min, self.x_max)

    @classmethod
    def from_keywords(
        cls,
        law: str | Law = "step_power",
        *,
        fixed: Mapping[str, float] | None = None,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        starts: Mapping[str, float] | None = None,
        shared: Sequence[str] = (),
        **options: Any,
    ) -> FitOptions:
        """FitOptions from the keywords the fit functions take: per-parameter mappings become
        ParamSpecs, the other keywords are fields (an unknown one is a TypeError)."""
        fixed, bounds, starts = dict(fixed or {}), dict(bounds or {}), dict(starts or {})
        names = dict.fromkeys([*fixed, *bounds, *starts, *shared])  # first mention first, once
        params = {
            name: ParamSpec(fixed.get(name), bounds.get(name), starts.get(name), name in shared) for name in names
        }
        return cls(law, params=params, **options)

    @property
    def fixed(self) -> dict[str, float]:
        return {name: p.fixed for name, p in self.params.items() if p.fixed is not None}

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return {name: p.bounds for name, p in self.params.items() if p.bounds is not None}

    @property
    def starts(self) -> dict[str, float]:
        return {name: p.start for name, p in self.params.items() if p.start is not None}

    @property
    def shared(self) -> tuple[str, ...]:
        return tuple(name for name, p in self.params.items() if p.shared)

    def sharing(self, names: Sequence[str]) -> FitOptions:
        """These options with exactly `names` shared by the curves of a joint fit."""
        params = {name: replace(p, shared=name in names) for name, p in self.params.items()}
        params.update({name: ParamSpec(shared=True) for name in names if name not in params})
        return replace(self, params=params)

    def resolve_law(self) -> Law:
        """The Law: a registered one, the one given, or the expression parsed (with its bounds and
        starts, which apply to expressions only)."""
        bounds, starts = self.bounds, self.starts
        if (bounds or starts) and isinstance(self.law, str) and not self.law.isidentifier():
            return expression_law(self.law, bounds=bounds, starts=starts)
        if bounds or starts:
            raise InvalidInputError("bounds and starts apply to expression laws only", field="bounds")
        return get_law(self.law)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form, with the per-parameter options as the keywords spell them."""
        return {
            "law": self.law if isinstance(self.law, str) else self.law.name,
            "x_min": self.x_min,
            "x_max": self.x_max,
            "loss_fn": self.loss_fn,
            "delta": self.delta,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "method": self.method,
            "fixed": self.fixed,
            "bounds": {name: list(box) for name, box in self.bounds.items()},
            "starts": self.starts,
            "shared": list(self.shared),
            "resample_bins": self.resample_bins,
        }


class FitKeywords(TypedDict, total=False):
    """The options as keywords of fit_curve and fit_batch (see FitOptions)."""

    x_min: float | None
    x_max: float | None
    fixed: Mapping[str, float] | None
    loss_fn: str
    delta: float | None
    bootstrap: int
    seed: int
    method: str
    bounds: Mapping[str, tuple[float, float]] | None
    starts: Mapping[str, float] | None
    resample_bins: int | None


class JointKeywords(FitKeywords, total=False):
    """fit_joint's and compare_curves's keywords: also the parameters every curve shares."""

    shared: Sequence[str]


def options_from(
    law: str | Law | None,
    options: FitOptions | None,
    keywords: Mapping[str, Any],
    *,
    joint: bool = False,
    **defaults: Any,
) -> FitOptions:
    """What an entry point fits with: `options`, or the law and keywords over the entry point's
    own `defaults`. Both at once is refused, as it would be unclear which wins; so is `shared`
    where nothing is fitted jointly (joint False), as it would be silently ignored."""
    if not joint and "shared" in keywords:
        raise TypeError("unexpected keyword argument 'shared': fit_joint and compare_curves share parameters")
    if options is None:
        return FitOptions.from_keywords(law if law is not None else "step_power", **{**defaults, **keywords})
    given = ["law"] * (law is not None) + list(keywords)
    if given:
        raise TypeError(f"options given together with {', '.join(given)}: give them in the options or as keywords")
    return options
