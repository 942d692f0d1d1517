"""Seeded synthetic curves shared by the fitting tests."""

from __future__ import annotations

import numpy as np

from fitting import get_law

# law -> (true params, relative tolerance per param; None: not determined by one such curve)
RECOVERY_CASES: dict[str, tuple[dict[str, float], dict[str, float | None]]] = {
    "step_power": ({"L0": 1.5, "B": 2e5, "beta": 0.35}, {"L0": 0.02, "B": 0.15, "beta": 0.03}),
    "power": ({"A": 8.0, "alpha": 0.3}, {"A": 0.03, "alpha": 0.01}),
    "chinchilla": (
        {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28},
        {"E": 0.05, "A": 0.5, "alpha": 0.1, "B": 0.5, "beta": 0.1},
    ),
    "bnsl": (
        {"E": 0.5, "A": 6.0, "alpha": 0.1, "d": 0.6, "x_b": 3e3, "s": 0.5},
        {"E": 0.05, "A": 0.1, "alpha": 0.1, "d": 0.1, "x_b": 0.3, "s": 0.5},
    ),
    # under a step schedule logged every 10 steps (inputs_for). One such curve at 0.5 % noise does
    # not separate C from gamma (only C eta^-gamma at the rates it saw): test_schedule_laws.py
    "lr_annealing": ({"L0": 2.5, "A": 0.5, "alpha": 0.5, "C": 0.3}, {"L0": 0.02, "A": 0.05, "alpha": 0.03, "C": 0.1}),
    "multi_power": (
        {"L0": 2.4, "A": 0.65, "alpha": 0.43, "B": 520.0, "C": 2.0, "beta": 0.6, "gamma": 0.63},
        {"L0": 0.02, "A": 0.05, "alpha": 0.05, "B": 0.1, "C": None, "beta": 0.5, "gamma": None},
    ),
}
PEAK_LR = 3e-4


def inputs_for(law_name: str, rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray] | np.ndarray:
    law = get_law(law_name)
    if law.inputs == ("N", "D"):
        return {"N": 10 ** rng.uniform(7, 11, n), "D": 10 ** rng.uniform(9, 12, n)}
    if law.derive is not None:
        x = np.linspace(0.0, 12_000.0, 3 * n + 1)[1:]
        return {"x": x, "lr": schedule("step", x, 12_000.0)}
    return np.geomspace(10, 1e6, n)


def schedule(kind: str, x: np.ndarray, total: float, warmup: float = 500.0) -> np.ndarray:
    """lr at steps x: a linear warmup to PEAK_LR, then constant, cosine (to a tenth), WSD (linear
    decay to a tenth over the last quarter) or step (x0.3 at each quarter)."""
    after = x - warmup
    span = total - warmup
    floor = 0.1 * PEAK_LR
    if kind == "constant":
        rate = np.full_like(x, PEAK_LR)
    elif kind == "cosine":
        rate = floor + 0.5 * (PEAK_LR - floor) * (1 + np.cos(np.pi * np.clip(after / span, 0, 1)))
    elif kind == "wsd":
        rate = PEAK_LR + (floor - PEAK_LR) * np.clip((x - 0.75 * total) / (0.25 * total), 0, 1)
    elif kind == "step":
        rate = PEAK_LR * 0.3 ** np.clip(np.floor(x / (0.25 * total)), 0, 3)
    else:
        raise ValueError(kind)
    return np.where(x < warmup, PEAK_LR * x / warmup, rate)


def noisy(law_name: str, x: object, params: dict[str, float], rng: np.random.Generator, sigma: float) -> np.ndarray:
    clean = get_law(law_name).evaluate(x, params)  # type: ignore[arg-type]
    return clean * np.exp(sigma * rng.standard_normal(clean.shape))


def step_power_curve(
    rng: np.random.Generator, *, n: int = 300, sigma: float = 0.01, L0: float = 1.2, B: float = 3e6, beta: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    x = np.geomspace(10, 1e5, n)
    return x, noisy("step_power", x, {"L0": L0, "B": B, "beta": beta}, rng, sigma)


def ar1(rng: np.random.Generator, phi: float, n: int) -> np.ndarray:
    """n steps of a unit-variance AR(1) process with lag-1 correlation phi: noise that remembers,
    as smoothed training logs have."""
    e = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + np.sqrt(1 - phi**2) * e[i]
    return out
