"""Area under the loss curve and the compression ratio (Gu et al. 2024, §2; docs/paper.md).

Training is prequential coding: the code length of the data is the area under the loss curve,
so CR is inversely proportional to it. Losses are in nats, as PyTorch computes them.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from fitting.errors import InvalidInputError
from fitting.validation import as_float_array, check_finite

CR_UNITS = {
    "paper": "log2|V| bits per token / mean loss in nats (the paper's convention)",
    "bits": "raw bits / code-length bits (log2|V| / mean loss in bits)",
}


def _losses(loss: Any) -> np.ndarray:
    arr = as_float_array(loss, "loss")
    if arr.size == 0:
        raise InvalidInputError("curve is empty", field="loss")
    check_finite(arr, "loss")
    bad = arr < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"must be >= 0, got {arr[i]}", field="loss", index=i)
    return arr


def auc(loss: Any, x: Any = None) -> float:
    """Area under the loss curve, nats x steps.

    Without x: sum_t L_t, the paper's J for a curve recorded at every step t = 1..T.
    With x (steps of a sparsely logged curve): the trapezoid integral of L over [x_0, x_end].
    """
    arr = _losses(loss)
    if x is None:
        return float(arr.sum())
    xs = as_float_array(x, "x")
    if xs.size != arr.size:
        raise InvalidInputError(f"has {xs.size} points but loss has {arr.size}", field="x")
    check_finite(xs, "x")
    bad = np.diff(xs) <= 0
    if bad.any():
        raise InvalidInputError("must be strictly increasing", field="x", index=int(np.flatnonzero(bad)[0]) + 1)
    if xs.size < 2:
        raise InvalidInputError("an integral over x needs at least 2 points", field="x")
    return float(np.trapezoid(arr, xs))


def compression_ratio(
    loss: Any,
    vocab_size: int,
    *,
    per_step_tokens: Any = None,
    x: Any = None,
    units: Literal["paper", "bits"] = "paper",
) -> float:
    """CR = T log2|V| / sum_t L_t, with L_t in nats (units "paper", the paper's figures).

    per_step_tokens (scalar or one per step): the single-epoch token form
    CR = M log2|V| / sum_t B_t L_t with M = sum_t B_t. x: steps of a sparsely logged curve
    (CR = log2|V| / time-averaged loss). units "bits" converts the loss to bits first, which
    gives the true ratio of raw to coded size. Units are described by CR_UNITS[units].
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int | np.integer) or vocab_size < 2:
        raise InvalidInputError(f"must be an integer >= 2, got {vocab_size!r}", field="vocab_size")
    if units not in CR_UNITS:
        raise InvalidInputError(f"unknown units {units!r}; choose one of {', '.join(CR_UNITS)}", field="units")
    arr = _losses(loss)
    scale = 1.0 / np.log(2.0) if units == "bits" else 1.0
    bits_per_token = float(np.log2(vocab_size))
    if per_step_tokens is not None:
        if x is not None:
            raise InvalidInputError("give per_step_tokens or x, not both", field="x")
        tokens = np.broadcast_to(np.asarray(per_step_tokens, dtype=float), arr.shape)
        check_finite(tokens, "per_step_tokens")
        if np.any(tokens <= 0):
            i = int(np.flatnonzero(tokens <= 0)[0])
            raise InvalidInputError("must be > 0", field="per_step_tokens", index=i)
        total = float((tokens * arr).sum()) * scale
        return _ratio(float(tokens.sum()) * bits_per_token, total)
    if x is None:
        return _ratio(arr.size * bits_per_token, float(arr.sum()) * scale)
    xs = as_float_array(x, "x")
    return _ratio((xs[-1] - xs[0]) * bits_per_token, auc(arr, xs) * scale)


def _ratio(raw: float, coded: float) -> float:
    if coded <= 0:
        raise InvalidInputError("the area under the loss curve is zero: CR is unbounded", field="loss")
    return raw / coded
