"""Seeded synthetic curves shared by the fitting tests."""

from __future__ import annotations

import numpy as np

from fitting import get_law

# law -> (inputs builder, true params, relative tolerance per param)
RECOVERY_CASES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
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
}


def inputs_for(law_name: str, rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray] | np.ndarray:
    law = get_law(law_name)
    if law.inputs == ("N", "D"):
        return {"N": 10 ** rng.uniform(7, 11, n), "D": 10 ** rng.uniform(9, 12, n)}
    return np.geomspace(10, 1e6, n)


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
