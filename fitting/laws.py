"""The law registry: each law is a formula, its parameters (with bounds and fitting scale),
a numerically stable log-evaluation, and a data-driven guess of starting values.

Laws are evaluated in log space (log L) because every fit is done on log-loss residuals;
log-evaluation also keeps (B/x)^beta finite for B ~ 1e8 and small x. Every function here is
elementwise, so parameters may be scalars, (b, 1) columns (one value per curve) or (b, m)
arrays (one value per point, used by joint fits).
"""

from __future__ import annotations

import numpy as np

from fitting.engine import all_finite
from fitting.errors import UnknownLawError
from fitting.expression import expression_law
from fitting.formula import MAX_CHARS, excerpt
from fitting.law_types import Arrays, Law, Param
from fitting.linear import nonneg_linear_fit, nonneg_pair_fit, relative_weights
from fitting.schedule_laws import LR_ANNEALING, MULTI_POWER

# ---------------------------------------------------------------------------------------------
# step_power: L0 + (B/x)^beta, the paper's law.


def log_input(inputs: Arrays, name: str) -> np.ndarray:
    """log of an input; fitting problems precompute it as "log_<name>"."""
    cached = inputs.get("log_" + name)
    return cached if cached is not None else np.log(inputs[name])


def _step_power_parts(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log(B/x), beta log(B/x), (B/x)^beta and L, computed directly where finite."""
    log_ratio = np.log(p["B"]) - log_input(inputs, "x")
    a = p["beta"] * log_ratio
    with np.errstate(over="ignore"):
        power = np.exp(a)
    return log_ratio, a, power, p["L0"] + power


def _step_power_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    _, a, _, f = _step_power_parts(inputs, p)
    with np.errstate(divide="ignore"):
        log_f = np.log(f)
        if not np.all(np.isfinite(log_f)):  # (B/x)^beta overflowed: redo in log space
            log_f = np.logaddexp(np.log(p["L0"]), a)
    return log_f


def _step_power_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    log_ratio, a, power, f = _step_power_parts(inputs, p)
    inv = 1.0 / f
    share = power * inv  # (B/x)^beta / L
    with np.errstate(divide="ignore"):
        log_f = np.log(f)
    if not (all_finite(share) and all_finite(log_f)):
        with np.errstate(divide="ignore"):
            log_f = np.logaddexp(np.log(p["L0"]), a)
        inv, share = np.exp(-log_f), np.exp(a - log_f)
    return log_f, {"L0": inv, "B": p["beta"] * share, "beta": log_ratio * share}


def _step_power_jacobian(inputs: Arrays, p: Arrays, out: np.ndarray) -> np.ndarray | None:
    """_step_power_grad written into out (b, 3, m) with no temporaries but log(B/x) and L: each
    derivative computed in place of the one before it. None where (B/x)^beta overflows."""
    log_ratio = np.log(p["B"]) - log_input(inputs, "x")
    power = np.multiply(p["beta"], log_ratio, out=out[:, 2])
    with np.errstate(over="ignore"):
        np.exp(power, out=power)
    f = p["L0"] + power
    inv = np.divide(1.0, f, out=out[:, 0])  # d log L / d L0
    share = np.multiply(power, inv, out=power)  # (B/x)^beta / L
    np.multiply(p["beta"], share, out=out[:, 1])  # d / d log B
    np.multiply(log_ratio, share, out=out[:, 2])  # d / d beta
    with np.errstate(divide="ignore"):
        log_f = np.log(f, out=f)
    return log_f if all_finite(out) and all_finite(log_f) else None


def _step_power_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Variable projection: for each beta on a grid, L0 and C = B^beta enter linearly, fitted as a
    # relative least-squares problem (fitting.linear) from weighted sums over the points. Where
    # every row has the same x (a broadcast view: stride 0), the sums over the 16 betas are
    # matrix products with one (16, m) table of powers.
    x = np.broadcast_to(inputs["x"], loss.shape)
    betas = np.geomspace(0.02, 3.0, 16)  # (S,)
    y, w, scale = relative_weights(loss, mask)
    wy = w * y
    if x.strides[0] == 0:
        powers = x[0][None, :] ** -betas[:, None]  # (S, m)
        sums = (w @ powers.T, w @ (powers * powers).T, wy @ powers.T)  # each (b, S)
    else:
        powers = x[None] ** -betas[:, None, None]  # (S, b, m)
        sums = tuple(np.einsum("bm,sbm->bs", u, v) for u, v in ((w, powers), (w, powers * powers), (wy, powers)))
    swp, swpp, swpy = sums
    sw, swy, swyy = (v.sum(axis=1, keepdims=True) for v in (w, wy, wy * y))
    c0, c1 = nonneg_pair_fit(sw, swp, swpp, swy, swpy, swyy)  # (b, S)
    beta = np.broadcast_to(betas, c0.shape)
    with np.errstate(all="ignore"):  # an overflowing B start is clipped to B's bound
        l0, c = (np.where(np.isfinite(v * scale), v * scale, 0.0) for v in (c0, c1))
        b = np.exp(np.log(np.maximum(c, 1e-300)) / beta)
    return np.stack([l0, b, beta], axis=-1).transpose(1, 0, 2)  # (S, b, 3)


STEP_POWER = Law(
    name="step_power",
    formula="L0 + (B / x)^beta",
    inputs=("x",),
    params=(
        Param("L0", 0.0, 1e6),
        Param("B", 1e-30, 1e60, log_scale=True),
        Param("beta", 1e-4, 20.0),
    ),
    log_model=_step_power_log,
    log_model_grad=_step_power_grad,
    log_model_jacobian=_step_power_jacobian,
    guess=_step_power_guess,
    description="The Learning-Law paper's law of a learning process: irreducible L0 plus a power of B/x.",
)


# ---------------------------------------------------------------------------------------------
# power: A x^-alpha.


def _power_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    return np.log(p["A"]) - p["alpha"] * log_input(inputs, "x")


def _power_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    log_x = log_input(inputs, "x")
    log_f = np.log(p["A"]) - p["alpha"] * log_x
    return log_f, {"A": np.ones_like(log_f), "alpha": -log_x + 0 * p["alpha"]}


def _power_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # Ordinary regression of log L on log x is the exact least-squares start.
    lx, ly = np.log(inputs["x"]) * mask, np.log(loss) * mask
    n = mask.sum(axis=1)
    mx, my = lx.sum(1) / n, ly.sum(1) / n
    sxx = ((lx - mx[:, None] * mask) ** 2).sum(1)
    sxy = ((lx - mx[:, None] * mask) * (ly - my[:, None] * mask)).sum(1)
    slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
    with np.errstate(over="ignore"):  # an overflowing A start is clipped to A's bound
        a = np.exp(my - slope * mx)
    return np.stack([a, -slope], axis=-1)[None]


POWER = Law(
    name="power",
    formula="A * x^-alpha",
    inputs=("x",),
    params=(Param("A", 1e-300, 1e300, log_scale=True), Param("alpha", -20.0, 20.0)),
    log_model=_power_log,
    log_model_grad=_power_grad,
    guess=_power_guess,
    description="Pure power law (no irreducible loss).",
)


# ---------------------------------------------------------------------------------------------
# chinchilla: E + A / N^alpha + B / D^beta (inputs N parameters, D tokens).


def _chinchilla_terms(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a1 = np.log(p["A"]) - p["alpha"] * log_input(inputs, "N")
    a2 = np.log(p["B"]) - p["beta"] * log_input(inputs, "D")
    with np.errstate(divide="ignore"):
        log_f = np.logaddexp(np.logaddexp(np.log(p["E"]), a1), a2)
    return a1, a2, log_f


def _chinchilla_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    return _chinchilla_terms(inputs, p)[2]


def _chinchilla_grad(inputs: Arrays, p: Arrays) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    a1, a2, log_f = _chinchilla_terms(inputs, p)
    s1, s2 = np.exp(a1 - log_f), np.exp(a2 - log_f)
    return log_f, {
        "E": np.exp(-log_f),
        "A": s1,
        "alpha": -log_input(inputs, "N") * s1,
        "B": s2,
        "beta": -log_input(inputs, "D") * s2,
    }


def _chinchilla_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n, d = inputs["N"], inputs["D"]
    starts = []
    for alpha in (0.1, 0.2, 0.35, 0.5, 0.8):
        for beta in (0.1, 0.2, 0.35, 0.5, 0.8):
            basis = np.stack(np.broadcast_arrays(np.ones_like(loss), n**-alpha, d**-beta), axis=-1)
            coef = nonneg_linear_fit(basis, loss, mask)
            alphas, betas = np.full(len(loss), alpha), np.full(len(loss), beta)
            starts.append(np.stack([coef[:, 0], coef[:, 1], alphas, coef[:, 2], betas], axis=-1))
    return np.stack(starts)


CHINCHILLA = Law(
    name="chinchilla",
    formula="E + A / N^alpha + B / D^beta",
    inputs=("N", "D"),
    params=(
        Param("E", 0.0, 1e6),
        Param("A", 1e-30, 1e60, log_scale=True),
        Param("alpha", 1e-4, 5.0),
        Param("B", 1e-30, 1e60, log_scale=True),
        Param("beta", 1e-4, 5.0),
    ),
    log_model=_chinchilla_log,
    log_model_grad=_chinchilla_grad,
    guess=_chinchilla_guess,
    description="Hoffmann et al. (2022): loss against model parameters N and training tokens D.",
)


# ---------------------------------------------------------------------------------------------
# bnsl: broken neural scaling law with one break (Caballero et al. 2023).


def _bnsl_log(inputs: Arrays, p: Arrays) -> np.ndarray:
    log_x = log_input(inputs, "x")
    softplus = np.logaddexp(0.0, (log_x - np.log(p["x_b"])) / p["s"])  # log(1 + (x/x_b)^(1/s))
    a = np.log(p["A"]) - p["alpha"] * log_x - p["d"] * p["s"] * softplus
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log(p["E"]), a)


def _bnsl_guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = inputs["x"]
    log_x = np.where(mask > 0, np.log(x), np.nan)
    lo, hi = np.nanmin(log_x, axis=1), np.nanmax(log_x, axis=1)
    starts = []
    for alpha in (0.05, 0.2, 0.5, 1.0):
        for d in (-0.5, 0.3, 1.0):
            for q in (0.2, 0.4, 0.6, 0.8):
                x_b = np.exp(lo + q * (hi - lo))[:, None]
                shape = x**-alpha * (1.0 + x / x_b) ** -d
                basis = np.stack([np.ones_like(x), shape], axis=-1)
                coef = nonneg_linear_fit(basis, loss, mask)
                b = len(loss)
                starts.append(
                    np.stack(
                        [coef[:, 0], coef[:, 1], np.full(b, alpha), np.full(b, d), x_b[:, 0], np.ones(b)],
                        axis=-1,
                    )
                )
    return np.stack(starts)


BNSL = Law(
    name="bnsl",
    formula="E + A * x^-alpha * (1 + (x / x_b)^(1/s))^(-d * s)",
    inputs=("x",),
    params=(
        Param("E", 0.0, 1e6),
        Param("A", 1e-30, 1e60, log_scale=True),
        Param("alpha", -1.0, 5.0),
        Param("d", -5.0, 5.0),
        Param("x_b", 1e-30, 1e60, log_scale=True),
        Param("s", 1e-2, 1e2, log_scale=True),
    ),
    log_model=_bnsl_log,
    guess=_bnsl_guess,
    description="Broken power law with one smooth break at x_b: the exponent moves from alpha to alpha + d.",
)


LAWS: dict[str, Law] = {law.name: law for law in (STEP_POWER, POWER, CHINCHILLA, BNSL, LR_ANNEALING, MULTI_POWER)}


def get_law(law: str | Law) -> Law:
    """A registered law by name, a Law as given, or an expression in x (see expression_law)."""
    if isinstance(law, Law):
        return law
    if not isinstance(law, str) or not law.strip():
        raise UnknownLawError(f"expected a law name or expression, got {excerpt(repr(law))}", field="law")
    if law in LAWS:
        return LAWS[law]
    if law.isidentifier() and len(law) <= MAX_CHARS:  # a longer one is refused as too long, below
        known = ", ".join(sorted(LAWS))
        raise UnknownLawError(f"unknown law {excerpt(law)!r}; known laws: {known} (or an expression in x)", field="law")
    return expression_law(law)
