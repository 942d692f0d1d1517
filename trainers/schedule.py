"""Learning-rate schedules of the inner run (torch-free): the rate of each of the T updates, so a
run can produce the curves schedule-aware laws are fitted to and predicted across (fitting's
lr_annealing and multi_power).

    constant   eta at every step
    cosine     eta down to eta / 10 along half a cosine
    wsd        warmup-stable-decay without the warmup: eta, then a linear decay to eta / 10 over
               the last fifth of the steps
    step       eta, then eta / 10 from half the steps, eta / 100 from three quarters
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCHEDULES = ("constant", "cosine", "wsd", "step")
FLOOR = 0.1  # where cosine and wsd end, as a share of eta
DECAY_SHARE = 0.2  # wsd: the share of the steps that decays

Rates = Sequence[float] | np.ndarray  # one learning rate per update


def lr_schedule(name: str, eta: float, steps: int) -> np.ndarray:
    """(steps,) the rate of update t, t = 0..steps-1."""
    t = np.arange(steps, dtype=float)
    if name == "constant":
        return np.full(steps, eta)
    if name == "cosine":
        return eta * (FLOOR + (1 - FLOOR) * 0.5 * (1 + np.cos(np.pi * t / steps)))
    if name == "wsd":
        start = steps * (1 - DECAY_SHARE)
        share = np.clip((t - start) / (steps - start), 0.0, 1.0)
        return eta * (1 - (1 - FLOOR) * share)
    if name == "step":
        return eta * np.where(t < steps / 2, 1.0, np.where(t < 3 * steps / 4, 0.1, 0.01))
    raise ValueError(f"no learning-rate schedule {name!r}: use {', '.join(SCHEDULES)}")


def step_rates(eta: float | Rates, steps: int) -> list[float]:
    """One rate per update: a constant eta repeated, or a schedule's `steps` rates as they are."""
    if np.ndim(eta) == 0:
        return [float(eta)] * steps  # type: ignore[arg-type]
    rates = [float(v) for v in eta]  # type: ignore[union-attr]
    if len(rates) < steps:
        raise ValueError(f"{len(rates)} learning rates for {steps} steps")
    return rates
