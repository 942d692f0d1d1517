"""Backtests: can a law's extrapolation be trusted? Fit it on the part of a curve it would have had,
predict the part it did not see, and score the prediction.

    backtest(curves, laws, train_fractions, pairs, options) -> BacktestResult
     +-- rows: BacktestRow per law and setting, each setting's rows ranked by mean error

Two settings:
- a train fraction f of a curve: the law is fitted on the points with x <= x_first + f (x_last -
  x_first), a share of the curve's *x range* (steps, tokens), not of its points, so that 0.5 means
  "the first half of training" whatever the logging cadence; the rest is held out.
- a pair (fit on A, predict B), cross-schedule: fitted on all of A, B is held out whole.

A law is evaluated on the whole curve it predicts (law.evaluate with the curve's own inputs) and
read at the held-out points: a law whose inputs beyond x are cumulative (a learning-rate schedule's
areas) must see the schedule from the curve's start, not from the first held-out point. Inputs
other than x come from the curve's columns by name (e.g. "lr").

Scores, with L the held-out losses and P the predictions: final_error (P - L) / L at the last point
(signed: negative predicts too low a loss), mean_error and worst_error of |P - L| / L, and coverage,
the share of held-out points inside the 95 % prediction band. The band is made of the fit's
bootstrap samples (FitResult.samples), each with a training residual drawn at random added in log
space: a band of the parameters alone leaves out the noise of the points it is asked to hold, and
would cover white-noise points far less than 95 % of the time. Without bootstrap there is no band
(coverage NaN). x_min and x_max of the options cut every curve before it is split (a warm-up left
out of both parts).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fitting.errors import FitImpossibleError, InvalidInputError
from fitting.law_types import Law
from fitting.options import FitOptions
from fitting.result import FitResult
from fitting.single import fit_curve

DEFAULT_TRAIN_FRACTIONS = (0.5, 0.8)


@dataclass(frozen=True, eq=False)
class BacktestCurve:
    """One curve: x (strictly increasing), its losses, and named input columns beside x (e.g. "lr")."""

    name: str
    x: np.ndarray
    loss: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class BacktestRow:
    """One law in one setting. train_fraction is NaN for a pair (fit_on != predict_on). status is
    the fit's status, or "failed" where there was no fit (message says why; the errors are NaN).
    rank: 1 for the lowest mean error of the setting."""

    law: str
    fit_on: str
    predict_on: str
    train_fraction: float
    final_error: float
    mean_error: float
    worst_error: float
    coverage: float
    n_train: int
    n_held_out: int
    status: str
    message: str = ""
    rank: int = 0
    n_bootstrap: int = 0


@dataclass(frozen=True)
class BacktestResult:
    """The rows, setting by setting in the order asked (curves by fraction, then pairs), each
    setting's laws sorted by mean error (failed fits last)."""

    rows: tuple[BacktestRow, ...]

    def best(self) -> dict[tuple[str, str, float], str]:
        """The law ranked first in each setting, keyed by (fit_on, predict_on, train_fraction)."""
        return {(r.fit_on, r.predict_on, r.train_fraction): r.law for r in self.rows if r.rank == 1}


def backtest(
    curves: Sequence[BacktestCurve] = (),
    laws: Sequence[str | Law] = ("step_power",),
    train_fractions: Sequence[float] = DEFAULT_TRAIN_FRACTIONS,
    pairs: Sequence[tuple[BacktestCurve, BacktestCurve]] = (),
    *,
    options: FitOptions | None = None,
) -> BacktestResult:
    """Each law fitted on each curve's first train_fractions (of its x range) and on each pair's
    first curve, scored on what it did not see. options: how every fit is made (its law is
    replaced by each of `laws`); bootstrap > 0 gives the prediction band and its coverage."""
    options = options or FitOptions()
    if not laws:
        raise InvalidInputError("no laws given", field="laws")
    if not curves and not pairs:
        raise InvalidInputError("no curves given", field="curves")
    fractions = check_train_fractions(train_fractions, bool(curves))
    resolved = [_resolve(law, i, options) for i, law in enumerate(laws)]
    for i, (fit_on, predict_on) in enumerate(pairs):
        if fit_on is predict_on or fit_on.name == predict_on.name:
            raise InvalidInputError(f"fits and predicts the same curve {fit_on.name!r}", field="pairs", index=i)
    rows: list[BacktestRow] = []
    for curve in curves:
        full = _window(curve, options)
        for fraction in fractions:
            cut = full.x[0] + fraction * (full.x[-1] - full.x[0])
            n_train = int(np.searchsorted(full.x, cut, side="right"))
            setting = [_score(law, name, full, n_train, full, fraction, opts) for law, name, opts in resolved]
            rows += _ranked(setting)
    for fit_on, predict_on in pairs:
        train, target = _window(fit_on, options), _window(predict_on, options)
        rows += _ranked(
            [_score(law, name, train, train.x.size, target, math.nan, opts) for law, name, opts in resolved]
        )
    return BacktestResult(tuple(rows))


def check_train_fractions(train_fractions: Sequence[float], split: bool = True) -> list[float]:
    """The fractions, each within (0, 1); some where curves are to be split (split)."""
    fractions = [float(f) for f in train_fractions]
    for i, f in enumerate(fractions):
        if not 0 < f < 1:
            raise InvalidInputError(f"must be within (0, 1), got {f}", field="train_fractions", index=i)
    if split and not fractions:
        raise InvalidInputError("no train fractions for the curves", field="train_fractions")
    return fractions


def _resolve(law: str | Law, index: int, options: FitOptions) -> tuple[Law, str, FitOptions]:
    """The law, its name as given (an expression's text) and the options that fit it, with no
    fitting range: the curves are cut before they are split."""
    law_options = replace(options, law=law, x_min=None, x_max=None)
    try:
        resolved = law_options.resolve_law()
    except InvalidInputError as exc:
        raise type(exc)(exc.message, field="laws", index=index) from None
    return resolved, law if isinstance(law, str) else law.name, law_options


def _window(curve: BacktestCurve, options: FitOptions) -> BacktestCurve:
    """The curve within [x_min, x_max], as arrays."""
    x = np.asarray(curve.x, dtype=float)
    keep = np.ones(x.size, dtype=bool)
    if options.x_min is not None:
        keep &= x >= options.x_min
    if options.x_max is not None:
        keep &= x <= options.x_max
    if not keep.any():
        raise InvalidInputError(f"curve {curve.name!r} has no point within the fitting range", field="x_min")
    columns = {k: np.asarray(v, dtype=float)[keep] for k, v in curve.columns.items()}
    return BacktestCurve(curve.name, x[keep], np.asarray(curve.loss, dtype=float)[keep], columns)


def _inputs(law: Law, curve: BacktestCurve, n: int | None = None) -> Any:
    """What the law takes of the curve's first n points: x, or its named inputs by column."""
    if law.inputs == ("x",):
        return curve.x[:n]
    missing = [name for name in law.inputs if name != "x" and name not in curve.columns]
    if missing:
        raise InvalidInputError(
            f"{law.name} needs the input {missing[0]!r}, which curve {curve.name!r} does not carry", field="laws"
        )
    return {name: (curve.x if name == "x" else curve.columns[name])[:n] for name in law.inputs}


def _score(
    law: Law, name: str, train: BacktestCurve, n_train: int, target: BacktestCurve, fraction: float,
    options: FitOptions,
) -> BacktestRow:  # fmt: skip
    """One law fitted on train's first n_train points, scored on target's points after them (all
    of target's where target is another curve)."""
    start = n_train if target is train else 0
    n_held = target.x.size - start
    base = BacktestRow(name, train.name, target.name, fraction, math.nan, math.nan, math.nan, math.nan, n_train,
                       n_held, "failed", n_bootstrap=options.bootstrap)  # fmt: skip
    if n_held == 0:
        return replace(base, message="nothing is held out: the curve ends where the training part does")
    try:
        fit = fit_curve(_inputs(law, train, n_train), train.loss[:n_train], options=options)
    except FitImpossibleError as exc:
        return replace(base, message=str(exc))
    if not all(math.isfinite(v) for v in fit.params.values()):
        return replace(base, status=fit.status.value, message=fit.message or "the fit determined no law")
    with np.errstate(all="ignore"):
        predicted = law.evaluate(_inputs(law, target), fit.params)[start:]
    held = target.loss[start:]
    errors = (predicted - held) / held
    return replace(
        base,
        final_error=float(errors[-1]),
        mean_error=float(np.mean(np.abs(errors))),
        worst_error=float(np.max(np.abs(errors))),
        coverage=_coverage(law, fit, train, n_train, target, start, options.seed),
        status=fit.status.value,
        message=fit.message,
        n_bootstrap=0 if fit.samples is None else len(fit.samples),
    )


def _coverage(
    law: Law, fit: FitResult, train: BacktestCurve, n_train: int, target: BacktestCurve, start: int, seed: int
) -> float:
    """Share of target's held-out points inside the 95 % band: each bootstrap sample's log
    prediction plus a centred training residual drawn at random. NaN without samples."""
    if fit.samples is None or len(fit.samples) < 2:
        return math.nan
    with np.errstate(all="ignore"):
        residuals = np.log(train.loss[:n_train]) - np.log(law.evaluate(_inputs(law, train, n_train), fit.params))
    residuals = residuals[np.isfinite(residuals)]
    if residuals.size == 0:
        return math.nan
    residuals = residuals - np.median(residuals)
    names = law.param_names
    target_inputs = _inputs(law, target)
    rng = np.random.default_rng(seed)
    rows = []
    for sample in fit.samples:
        if not np.all(np.isfinite(sample)):
            continue
        with np.errstate(all="ignore"):
            log_p = np.log(law.evaluate(target_inputs, dict(zip(names, sample, strict=True)))[start:])
        rows.append(log_p + rng.choice(residuals, size=log_p.size))
    if len(rows) < 2:
        return math.nan
    draws = np.asarray(rows)  # (n_boot, held-out points)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN only: no band, not inside
        # the plotting positions of result.percentile_interval, per held-out point
        low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0, method="weibull")
    log_held = np.log(target.loss[start:])
    return float(np.mean((low <= log_held) & (log_held <= high)))


def _ranked(rows: list[BacktestRow]) -> list[BacktestRow]:
    """One setting's rows sorted by mean error (failed and NaN last), ranked from 1."""
    order = sorted(
        rows, key=lambda r: (not math.isfinite(r.mean_error), r.mean_error if math.isfinite(r.mean_error) else 0)
    )
    return [replace(r, rank=i + 1 if math.isfinite(r.mean_error) else 0) for i, r in enumerate(order)]
