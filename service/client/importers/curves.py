"""LogCurve: one curve read from a log, with where each point came from, checked so that an error
names the file and the row ("baseline.csv row 7: loss is NaN") rather than a wire field.

A curve may carry the learning rate of each point (the input column `lr`) read beside its loss:
from a table column, a TensorBoard tag or an MLflow metric. A schedule logged at other steps than
the loss is paired by step, each loss point taking the rate in force there (the last one logged at
or before its step), as a schedule holds between its logs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


class LogReadError(Exception):
    """A log that cannot become curves: unreadable, missing a column or tag, or a bad row.
    The message is ours and names the source; it never carries a foreign exception's text."""


@dataclass(frozen=True, eq=False)
class LogCurve:
    """Points of one curve and their origin. rows[i] is the 1-based row (data rows; a table's
    header is not counted) or event index that point i came from, for error messages."""

    name: str
    x: np.ndarray
    loss: np.ndarray
    source: str  # the file, directory or run it came from, as the user named it
    rows: np.ndarray
    dropped: int = 0  # rows left out by dropna (non-finite x or loss)
    unit: str = "row"  # what rows holds: a table's row numbers, or a TensorBoard or MLflow point's step
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # input columns beside x, e.g. "lr"

    def where(self, i: int) -> str:
        return f"{self.source} {self.unit} {int(self.rows[i])}"


def log_curve(
    name: str,
    x: np.ndarray,
    loss: np.ndarray,
    source: str,
    *,
    rows: np.ndarray | None = None,
    dropna: bool = False,
    unit: str = "row",
    lr: np.ndarray | None = None,
    columns: dict[str, np.ndarray] | None = None,
) -> LogCurve:
    """A checked curve: finite x and loss (or, with dropna, those rows left out and counted),
    x strictly increasing, at least one point; with `lr`, a finite, non-negative learning rate
    per point (dropna leaves out rows where it is missing too). rows: each point's row in the
    source (default 1, 2, ... in the order given). columns: other inputs of each point, by name
    (a point set's N and D), finite like the loss."""
    xs, ls = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    numbers = np.arange(1, xs.size + 1) if rows is None else np.asarray(rows)
    columns = {k: np.asarray(v, dtype=float) for k, v in (columns or {}).items()}
    if lr is not None:
        columns["lr"] = np.asarray(lr, dtype=float)
    curve = LogCurve(name, xs, ls, source, numbers, unit=unit, columns=columns)
    finite = np.isfinite(xs) & np.isfinite(ls)
    for values in columns.values():
        finite &= np.isfinite(values)
    if dropna and not finite.all():
        kept = {k: v[finite] for k, v in columns.items()}
        curve = replace(
            curve, x=xs[finite], loss=ls[finite], rows=curve.rows[finite], dropped=int((~finite).sum()), columns=kept
        )
    check_curve(curve)
    return curve


def rate_at_steps(steps: np.ndarray, rate_steps: np.ndarray, rates: np.ndarray, what: str) -> np.ndarray:
    """The learning rate in force at each of `steps`: the last one logged at or before it. A loss
    logged before the schedule's first entry has no rate: an error naming the step."""
    order = np.argsort(rate_steps, kind="stable")
    rate_steps, rates = rate_steps[order], rates[order]
    at = np.searchsorted(rate_steps, steps, side="right") - 1
    if rate_steps.size == 0 or (at < 0).any():
        first = steps[int(np.flatnonzero(at < 0)[0])] if rate_steps.size else steps[0]
        since = f"starts at step {rate_steps[0]:g}" if rate_steps.size else "has no points"
        raise LogReadError(f"{what}: no learning rate at or before step {first:g} (the schedule {since})")
    return rates[at]


def check_curve(curve: LogCurve) -> None:
    label = f"{curve.name}: " if curve.name and curve.name not in curve.source else ""  # a wide column
    if curve.x.size == 0:
        raise LogReadError(f"{curve.source}: {label}no points" + (" left after --dropna" if curve.dropped else ""))
    for what, values in (("step", curve.x), ("loss", curve.loss), *curve.columns.items()):
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            kind = "NaN" if np.isnan(values[i]) else f"{values[i]}"
            hint = " (--dropna leaves such rows out)"
            raise LogReadError(f"{curve.where(i)}: {label}{what} is {kind}{hint}")
    lr = curve.columns.get("lr")
    if lr is not None and (lr < 0).any():
        i = int(np.flatnonzero(lr < 0)[0])
        raise LogReadError(f"{curve.where(i)}: {label}lr is {lr[i]:g}; a learning rate is never negative")
    back = np.diff(curve.x) <= 0
    if back.any():
        i = int(np.flatnonzero(back)[0]) + 1
        raise LogReadError(
            f"{curve.where(i)}: {label}step {curve.x[i]:g} does not increase (after {curve.x[i - 1]:g} at "
            f"{curve.unit} {int(curve.rows[i - 1])}); steps must be strictly increasing"
        )
