"""The schedule-aware laws: a curve's loss from its learning-rate schedule, not from x alone.

Both take the inputs ("x", "lr"): steps, strictly increasing, and the learning rate per point
(>= 0). Their `derive` turns the whole curve into the schedule's summaries (fitting/schedule.py)
before any range or subsample picks points; log_model then reads those:

- lr_annealing (Tissue et al. 2024, arXiv 2408.11029): L = L0 + A S1^-alpha - C S2, with S1 the
  forward area and S2 the annealing area (momentum form, lambda = 0.999).
- multi_power (Luo et al. 2025, arXiv 2503.12811): L = L0 + A (S1 + S_W)^-alpha - LD, with
  LD = B sum_k (eta_{k-1} - eta_k) G(eta_k^-gamma S_k(t)), G(z) = 1 - (C z + 1)^-beta, over the
  steps after warmup. Its first term reads the forward area of every step, S_W included, so it
  is the same S1 as lr_annealing's; LD reads the binned decrements (schedule.DecrementBins).

Parameters broadcast as in fitting/laws.py: scalars, (b, 1) columns or (b, m) per point; the
multi-power law's per-bin arrays are (b, m, K), so its parameters take a last axis of 1.
"""

from __future__ import annotations

import numpy as np

from fitting.law_types import Arrays, Law, Param
from fitting.linear import nonneg_linear_fit
from fitting.schedule import (
    annealing_area,
    check_schedule,
    check_trained,
    decrement_bins,
    forward_area,
    step_rates,
)


def _log_s1(inputs: Arrays) -> np.ndarray:
    cached = inputs.get("log_S1")
    if cached is not None:
        return cached
    with np.errstate(divide="ignore"):  # S1 = 0 (at step 0): L is infinite there
        return np.log(inputs["S1"])


def _log_or_nan(f: np.ndarray) -> np.ndarray:
    """log f, NaN where the model is not positive (the engine takes that as a bad residual)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(f)


# ---------------------------------------------------------------------------------------------
# lr_annealing: L0 + A S1^-alpha - C S2.


def _annealing_inputs(inputs: Arrays, fitted: np.ndarray) -> dict[str, np.ndarray]:
    x, lr = inputs["x"], inputs["lr"]
    check_schedule(x, lr)
    rates = step_rates(x, lr)
    s1 = forward_area(rates, x)
    check_trained(s1, x, fitted)
    return {"x": x, "S1": s1, "S2": annealing_area(rates, x)}


def _annealing_parts(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    log_s1 = _log_s1(inputs)
    with np.errstate(over="ignore"):
        power = np.exp(np.log(p["A"]) - p["alpha"] * log_s1)  # A S1^-alpha
    return log_s1, power, p["L0"] + power - p["C"] * inputs["S2"]


def _annealing_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    return _log_or_nan(_annealing_parts(inputs, p)[2])


def _annealing_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    log_s1, power, f = _annealing_parts(inputs, p)
    inv = 1.0 / f
    share = power * inv
    return _log_or_nan(f), {"L0": inv, "A": share, "alpha": -log_s1 * share, "C": -inputs["S2"] * inv}


def _annealing_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Variable projection: for each alpha on a grid, L0, A and C enter linearly (all >= 0).
    alphas = np.geomspace(0.05, 3.0, 16)[:, None, None]  # (S, 1, 1)
    with np.errstate(over="ignore"):
        powers = np.exp(-alphas * np.log(inputs["S1"])[None])  # (S, b, m)
    s2 = np.broadcast_to(-inputs["S2"], powers.shape)
    coef = _projected(np.stack([np.ones_like(powers), powers, s2], axis=-1), loss, mask, (1,))  # (S, b, 3)
    alpha = np.broadcast_to(alphas[:, :, 0], coef.shape[:2])
    return np.stack([coef[..., 0], coef[..., 1], alpha, coef[..., 2]], axis=-1)  # (S, b, 4)


def _projected(basis: np.ndarray, loss: np.ndarray, mask: np.ndarray, floored: tuple[int, ...]) -> np.ndarray:
    """basis (S, b, m, k) -> non-negative coefficients (S, b, k), all S candidates in one solve.

    The `floored` columns (log-scale parameters) start at least where their term is 1e-3 of the
    loss: a start at 0 sits on the bound, where the log-scale gradient vanishes and it stays."""
    n_starts, k = basis.shape[0], basis.shape[-1]
    rows = n_starts * len(loss)
    basis = np.where(np.isfinite(basis), basis, 0.0)
    coef = nonneg_linear_fit(
        basis.reshape(rows, -1, k),
        np.broadcast_to(loss, (n_starts, *loss.shape)).reshape(rows, -1),
        np.broadcast_to(mask, (n_starts, *mask.shape)).reshape(rows, -1),
    ).reshape(n_starts, len(loss), k)
    typical = (loss * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)  # (b,)
    for j in floored:
        reach = np.abs(basis[..., j] * mask).max(axis=-1)  # (S, b)
        coef[..., j] = np.maximum(coef[..., j], 1e-3 * typical / np.where(reach > 0, reach, 1.0))
    return coef


LR_ANNEALING = Law(
    name="lr_annealing",
    formula="L0 + A * S1^-alpha - C * S2",
    inputs=("x", "lr"),
    params=(
        Param("L0", 0.0, 1e6),
        Param("A", 1e-30, 1e30, log_scale=True),
        Param("alpha", 1e-4, 10.0),
        Param("C", 0.0, 1e12),
    ),
    log_model=_annealing_log,
    log_model_grad=_annealing_grad,
    guess=_annealing_guess,
    derive=_annealing_inputs,
    description=(
        "Tissue et al. (2024), arXiv 2408.11029: S1 the forward area (sum of lr over steps), S2 the "
        "annealing area (momentum form, lambda 0.999); inputs x (steps) and lr."
    ),
)


# ---------------------------------------------------------------------------------------------
# multi_power: L0 + A (S1 + S_W)^-alpha - LD(t).


def _multi_power_inputs(inputs: Arrays, fitted: np.ndarray) -> dict[str, np.ndarray]:
    x, lr = inputs["x"], inputs["lr"]
    check_schedule(x, lr)
    rates = step_rates(x, lr)
    s1 = forward_area(rates, x)
    check_trained(s1, x, fitted)
    bins = decrement_bins(rates, x)
    return {"x": x, "S1": s1, "D": bins.D, "gap": bins.gap, "log_eta": bins.log_eta}


def _last(v: np.ndarray) -> np.ndarray:
    """A parameter with a last axis for the bins: (b, 1) -> (b, 1, 1), (b, m) -> (b, m, 1)."""
    return np.asarray(v)[..., None]


def _drop_terms(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin, (b, m, K): u = 1 + C z with z = eta^-gamma gap, log u, and G = 1 - u^-beta."""
    with np.errstate(over="ignore"):
        cz = _last(p["C"]) * np.exp(-_last(p["gamma"]) * inputs["log_eta"]) * inputs["gap"]
    log_u = np.log1p(cz)
    return cz, log_u, -np.expm1(-_last(p["beta"]) * log_u)


def _multi_power_parts(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, ...]:
    """log S1, A S1^-alpha, LD, L and the per-bin terms of _drop_terms."""
    log_s1 = _log_s1(inputs)
    with np.errstate(over="ignore"):
        power = np.exp(np.log(p["A"]) - p["alpha"] * log_s1)  # A (S1 + S_W)^-alpha
    cz, log_u, g = _drop_terms(inputs, p)
    drop = p["B"] * np.einsum("...k,...k->...", inputs["D"], g)  # LD, (b, m)
    return log_s1, power, drop, p["L0"] + power - drop, cz, log_u, g


def _multi_power_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    return _log_or_nan(_multi_power_parts(inputs, p)[3])


def _multi_power_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    log_s1, power, drop, f, cz, log_u, g = _multi_power_parts(inputs, p)
    inv = 1.0 / f
    d = inputs["D"]
    # per bin, with u = 1 + C z: C dG/dC = beta u^-beta C z / u, dG/dgamma = -log(eta) C dG/dC,
    # dG/dbeta = u^-beta log u
    q = d * _last(p["beta"]) * (1.0 - g) * cz / (1.0 + cz)
    b_inv = p["B"] * inv
    return _log_or_nan(f), {
        "L0": inv,
        "A": power * inv,
        "alpha": -log_s1 * power * inv,
        "B": -drop * inv,
        "C": -b_inv * q.sum(axis=-1),
        "beta": -b_inv * np.einsum("...k,...k->...", d, (1.0 - g) * log_u),
        "gamma": b_inv * np.einsum("...k,...k->...", q, inputs["log_eta"]),
    }


def _multi_power_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # For fixed (C, beta, gamma) LD / B is known, and L0, A, B enter linearly for each alpha.
    # C is set from the schedule's own scale: C z = 1 after a fraction of the run at the typical rate.
    d, log_eta = inputs["D"], inputs["log_eta"]
    has = d != 0
    n_has = np.maximum(has.sum(axis=(1, 2)), 1)
    typical = np.exp(np.where(has, log_eta, 0.0).sum(axis=(1, 2)) / n_has)  # (b,) geometric mean rate
    x = np.broadcast_to(inputs["x"], loss.shape)
    x_last = np.where(mask > 0, x, 0.0).max(axis=1)  # (b,)
    alphas = np.geomspace(0.05, 2.0, 16)
    with np.errstate(over="ignore"):
        powers = np.exp(-alphas[:, None, None] * np.log(inputs["S1"])[None])  # (S, b, m)
    grid = (len(alphas), len(loss))
    starts = []
    for gamma in (0.3, 0.6):
        for beta in (0.3, 0.6, 1.0):
            for share in (1e-3, 1e-2, 1e-1):
                c = 1.0 / (typical ** (1.0 - gamma) * share * x_last)  # (b,)
                p = {"C": c[:, None], "beta": np.array(beta), "gamma": np.array(gamma)}
                per_b = np.einsum("...k,...k->...", d, _drop_terms(inputs, p)[2])  # LD / B, (b, m)
                basis = np.stack(np.broadcast_arrays(np.ones_like(powers), powers, -per_b[None]), axis=-1)
                coef = _projected(basis, loss, mask, (1, 2))  # (S, b, 3): L0, A, B
                fixed = [np.broadcast_to(v, grid) for v in (alphas[:, None], c[None, :], beta, gamma)]
                starts.append(np.stack([coef[..., 0], coef[..., 1], fixed[0], coef[..., 2], *fixed[1:]], axis=-1))
    return np.concatenate(starts)  # (S, b, 7)


MULTI_POWER = Law(
    name="multi_power",
    formula="L0 + A * (S1 + S_W)^-alpha - B * sum_k (eta_{k-1} - eta_k) * (1 - (C * eta_k^-gamma * S_k(x) + 1)^-beta)",
    inputs=("x", "lr"),
    params=(
        Param("L0", 0.0, 1e6),
        Param("A", 1e-30, 1e30, log_scale=True),
        Param("alpha", 1e-4, 10.0),
        Param("B", 1e-30, 1e30, log_scale=True),
        Param("C", 1e-30, 1e30, log_scale=True),
        Param("beta", 1e-4, 20.0),
        Param("gamma", -2.0, 5.0),
    ),
    log_model=_multi_power_log,
    log_model_grad=_multi_power_grad,
    guess=_multi_power_guess,
    derive=_multi_power_inputs,
    description=(
        "Luo et al. (2025), arXiv 2503.12811: a power law in the forward area (S_W the warmup's) minus "
        "the loss drop each lr decrement brings, saturating as a power of the area since; inputs x and lr."
    ),
)
