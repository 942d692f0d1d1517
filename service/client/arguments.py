"""The client's arguments checked before any call, so a wrong column or a bad value is an
InvalidArgument naming it, never a KeyError or a server round trip; and the server's refusals of
points put back in the caller's terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np
import pandas as pd

from service.client.errors import InvalidArgument


def as_columns(x: Any, loss: Any, x_col: str | None, loss_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Checked here, before any call, so a wrong column name is InvalidArgument, not a KeyError.
    x_col None: "step", else "x" (what read_curve returns)."""
    if isinstance(x, pd.DataFrame):
        if x_col is None:
            x_col = "x" if "step" not in x.columns and "x" in x.columns else "step"
        for field, name in (("x_col", x_col), ("loss_col", loss_col)):
            if name not in x.columns:
                has = ", ".join(map(str, x.columns))
                raise InvalidArgument(
                    grpc.StatusCode.INVALID_ARGUMENT, f"no column {name!r} (the table has: {has})",
                    [f"{field}: no column {name!r}"],
                )  # fmt: skip
        return _floats(x[x_col], x_col), _floats(x[loss_col], loss_col)
    if isinstance(x, pd.Series) and loss is None:
        return _floats(x.index, "index"), _floats(x, "loss")
    return _floats(x, "x"), _floats(loss, "loss")


def in_caller_terms(exc: InvalidArgument) -> InvalidArgument:
    """A refused point named by the caller's index ("loss[7]: must be finite"), not by the wire's
    chunk fields; service/client/log_upload.py turns these into a file's rows."""

    def plain(text: str) -> str:
        return text.replace("chunk.x[", "x[").replace("chunk.loss[", "loss[").replace("chunk.columns.", "")

    return type(exc)(exc.code, plain(exc.message), [plain(v) for v in exc.field_violations])


def learning_rates(x: Any, lr: Sequence[float] | np.ndarray | str, n: int) -> np.ndarray:
    """lr as values, or a column of the DataFrame x; finite, non-negative, one per point."""
    if isinstance(lr, str):
        if not isinstance(x, pd.DataFrame) or lr not in x.columns:
            reason = f"lr: no column {lr!r} in the frame" if isinstance(x, pd.DataFrame) else "lr: a name needs a frame"
            raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, reason, [reason])
        return learning_rates(x, x[lr].to_numpy(), n)
    rates = _floats(lr, "lr").reshape(-1)
    problem = ""
    if rates.size != n:
        problem = f"lr: {rates.size} values for {n} points"
    elif not np.isfinite(rates).all() or (rates < 0).any():
        i = int(np.flatnonzero(~(np.isfinite(rates) & (rates >= 0)))[0])
        problem = f"lr[{i}]: a learning rate must be finite and >= 0, got {rates[i]}"
    if problem:
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, problem, [problem])
    return rates


def _floats(values: Any, field: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:  # text in a column, say
        violation = f"{field}: must be numbers"
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {exc}", [violation]) from None
