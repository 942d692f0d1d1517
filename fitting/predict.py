"""predict: a fitted law applied to other steps or another learning-rate schedule, with a band."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.errors import InvalidInputError
from fitting.law_types import Arrays, LogModel
from fitting.laws import get_law
from fitting.result import FitResult
from fitting.validation import as_float_array, check_finite, check_positive, first_index

DRAW_BLOCK = 4_000_000


@dataclass(frozen=True, eq=False)
class PredictionResult:
    """The predicted loss at x, with its 95 % band (NaN where the fit has no bootstrap samples).

    The band is the percentile interval, point by point, of the losses the resampled parameters
    predict, widened where needed to contain `loss` itself."""

    x: np.ndarray
    loss: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def has_band(self) -> bool:
        return not bool(np.isnan(self.low).all())


def predict(fit: FitResult, x: Any, lr: Any = None) -> PredictionResult:
    """The loss `fit`'s law predicts at x (steps, strictly increasing, > 0).

    lr: the learning rate per point of x, for a schedule law (lr_annealing, multi_power). The
    schedule's sums are taken over these points alone, so give it from the start of training: a
    row at step 0 (a warmup's first lr, say) is allowed and predicts NaN (no loss before the first
    step). Other laws take no lr. A multi-input law (chinchilla) takes x as a mapping of its inputs.
    """
    law = get_law(fit.law)
    params = {name: float(fit.params[name]) for name in law.param_names}
    missing = [name for name, v in params.items() if not math.isfinite(v)]
    if missing:
        raise InvalidInputError(
            f"has no value of {', '.join(missing)} (status {fit.status.value}: {fit.message}); nothing to predict",
            field="fit",
        )
    inputs, steps = _inputs(law.inputs, law.derive is not None, x, lr)
    trained = steps > 0
    if law.derive is not None:  # the schedule's sums, once, for the estimate and every resample
        inputs = law.derive(inputs, trained)
    with np.errstate(all="ignore"):  # a non-finite prediction is reported as such
        loss = np.where(trained, np.exp(law.log_model(inputs, {k: np.asarray(v) for k, v in params.items()})), np.nan)
    nan = np.full(loss.shape, np.nan)
    if fit.samples is None or len(fit.samples) < 2:
        return PredictionResult(steps, loss, nan, nan.copy())
    draws = _draws(law.log_model, inputs, law.param_names, fit.samples)  # (n_boot, m)
    enough = np.isfinite(draws).sum(axis=0) >= 2
    with np.errstate(all="ignore"):
        low, high = np.nanpercentile(np.where(enough, draws, 0.0), [2.5, 97.5], axis=0, method="weibull")
    low = np.where(enough & trained, np.minimum(low, loss), np.nan)
    high = np.where(enough & trained, np.maximum(high, loss), np.nan)
    return PredictionResult(steps, loss, low, high)


def _draws(log_model: LogModel, inputs: Arrays, names: tuple[str, ...], samples: np.ndarray) -> np.ndarray:
    """The loss each resample predicts, NaN where not finite; resamples in blocks that keep the
    law's per-point arrays (b, m, K) to about DRAW_BLOCK entries."""
    per_draw = max(v.size for v in inputs.values())
    block = max(1, DRAW_BLOCK // per_draw)
    out = []
    for start in range(0, len(samples), block):
        columns = {name: samples[start : start + block, j, None] for j, name in enumerate(names)}  # (block, 1)
        with np.errstate(all="ignore"):
            out.append(np.exp(log_model(inputs, columns)))
    draws = np.concatenate(out)
    return np.where(np.isfinite(draws), draws, np.nan)


def _inputs(names: tuple[str, ...], schedule: bool, x: Any, lr: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The law's inputs from x (and lr), checked; also the x the result reports."""
    if len(names) > 1 and not schedule:
        if not isinstance(x, Mapping):
            raise InvalidInputError(f"the law takes inputs {', '.join(names)}: pass a mapping", field="x")
        inputs = {}
        for name in names:
            if name not in x:
                raise InvalidInputError(f"missing input {name!r}", field=f"x.{name}")
            inputs[name] = as_float_array(x[name], f"x.{name}")
            check_finite(inputs[name], f"x.{name}")
            check_positive(inputs[name], f"x.{name}", "the law takes logs of its inputs")
        if len({v.size for v in inputs.values()}) > 1:
            raise InvalidInputError("inputs differ in length", field="x")
        return inputs, inputs[names[0]]
    steps = as_float_array(x, "x")
    if steps.size == 0:
        raise InvalidInputError("no points to predict at", field="x")
    check_finite(steps, "x")
    if not schedule:
        check_positive(steps, "x", "the law takes logs of x")
    bad = np.diff(steps) <= 0
    if bad.any():
        i = first_index(bad) + 1
        raise InvalidInputError(f"must be strictly increasing, got {steps[i]} after {steps[i - 1]}", field="x", index=i)
    if not schedule:
        return {names[0]: steps}, steps
    if lr is None:
        raise InvalidInputError("a schedule law needs the learning rate at every x", field="lr")
    rates = as_float_array(lr, "lr")
    if rates.size != steps.size:
        raise InvalidInputError(f"has {rates.size} points but x has {steps.size}", field="lr")
    check_finite(rates, "lr")
    return {"x": steps, "lr": rates}, steps
