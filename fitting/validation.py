"""Input checks: every error names the field and the first bad index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fitting.errors import FitImpossibleError, InvalidInputError
from fitting.law_types import Law
from fitting.result import FitResult


@dataclass(frozen=True, eq=False)
class CurveData:
    """A validated curve restricted to the fitting range: 1-D float arrays of equal length."""

    inputs: dict[str, np.ndarray]
    loss: np.ndarray
    # points before the fitting range because their x <= 0 (a log that starts at step 0): left out
    # by default, as the law takes logs of x, and said on the result (see left_out_note)
    left_out: int = 0

    @property
    def n_points(self) -> int:
        return len(self.loss)

    @property
    def x_range(self) -> tuple[float, float]:
        first = self.inputs.get("x", next(iter(self.inputs.values())))
        return float(first.min()), float(first.max())


def as_float_array(values: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"must be numbers ({exc})", field=field) from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"must be one-dimensional, got shape {arr.shape}", field=field)
    return arr


def first_index(bad: np.ndarray) -> int:
    return int(np.flatnonzero(bad)[0])


def check_finite(arr: np.ndarray, field: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        i = first_index(bad)
        raise InvalidInputError(f"must be finite, got {arr[i]}", field=field, index=i)


def check_positive(arr: np.ndarray, field: str, why: str) -> None:
    bad = arr <= 0
    if bad.any():
        i = first_index(bad)
        raise InvalidInputError(f"must be > 0 ({why}), got {arr[i]}", field=field, index=i)


def check_range(x_min: float | None, x_max: float | None) -> None:
    for name, v in (("x_min", x_min), ("x_max", x_max)):
        if v is not None and not np.isfinite(v):
            raise InvalidInputError(f"must be finite, got {v}", field=name)
    if x_min is not None and x_max is not None and x_min >= x_max:
        raise InvalidInputError(f"x_min ({x_min}) must be below x_max ({x_max})", field="x_min")


def prepare_curve(
    x: Any,
    loss: Any,
    law: Law,
    *,
    x_min: float | None = None,
    x_max: float | None = None,
    n_free: int | None = None,
    prefix: str = "",
) -> CurveData:
    """Validate one curve and keep x_min <= x <= x_max (inclusive, on the law's first input).

    The range itself is checked by FitOptions, against the law by entry.prepare_fit. A law with
    `derive` (the schedule laws) gets its inputs derived from the whole curve first; on such a
    curve a row whose loss is NaN carries the schedule only (lr at a step without a loss)."""
    loss_arr = as_float_array(loss, f"{prefix}loss")
    if loss_arr.size == 0:
        raise InvalidInputError("curve is empty", field=f"{prefix}loss")
    inputs = _prepare_inputs(x, law, prefix)
    # A curve's x is checked > 0 inside the fitting range only (below). Without an explicit x_min,
    # its points at x <= 0 (step 0 of a log) are left out rather than refused; they can only lead
    # the curve, as x must increase. Given an x_min, the range is the caller's and a point at
    # x <= 0 inside it is an error as before.
    along = law.along_x
    skip_nonpositive = x_min is None and along
    for name, arr in inputs.items():
        field = input_field(law, name, prefix)
        if arr.size != loss_arr.size:
            raise InvalidInputError(f"has {arr.size} points but loss has {loss_arr.size}", field=field)
        check_finite(arr, field)
        if not along:
            check_positive(arr, field, "the law takes logs of its inputs")
    schedule_only = np.isnan(loss_arr) if law.derive is not None else np.zeros(loss_arr.size, dtype=bool)
    check_finite(np.where(schedule_only, 1.0, loss_arr), f"{prefix}loss")
    check_positive(np.where(schedule_only, 1.0, loss_arr), f"{prefix}loss", "fits are made on log loss")
    first = inputs[law.inputs[0]]
    if along:
        bad = np.diff(first) <= 0
        if bad.any():
            i = first_index(bad) + 1
            raise InvalidInputError(
                f"must be strictly increasing, got {first[i]} after {first[i - 1]}",
                field=input_field(law, law.inputs[0], prefix),
                index=i,
            )
    keep = ~schedule_only
    if skip_nonpositive:
        keep &= first > 0
    if x_min is not None:
        keep &= first >= x_min
    if x_max is not None:
        keep &= first <= x_max
    if along:
        check_positive(np.where(keep, first, 1.0), f"{prefix}x", "the law takes logs of its inputs")
    needed = (len(law.params) if n_free is None else n_free) + 1
    if keep.sum() < needed:
        raise FitImpossibleError(
            f"{int(keep.sum())} points in range but law {law.name} needs at least {needed}",
            field=f"{prefix}loss",
        )
    left_out = int(((first <= 0) & ~schedule_only).sum()) if skip_nonpositive else 0
    derived = inputs
    if law.derive is not None:  # from the whole curve: the schedule's sums run over every step
        try:
            derived = law.derive(inputs, keep)
        except InvalidInputError as exc:
            name = exc.field or law.inputs[0]
            raise InvalidInputError(exc.message, field=input_field(law, name, prefix), index=exc.index) from exc
    return CurveData({k: v[keep] for k, v in derived.items()}, loss_arr[keep], left_out)


# Values per stacked array when curves logged alike are checked together: the block's passes then
# run in cache (one block of 2,000 curves x 20,000 points checked at once ran 3x slower than curve
# by curve, at memory speed, and held 1.6x the memory)
ALIKE_VALUES = 1 << 18


def prepare_alike(
    curves: Sequence[tuple[Any, Any]], law: Law, *, x_min: float | None, x_max: float | None, n_free: int
) -> list[CurveData] | None:
    """Curves whose x and loss are plain 1-D arrays of one length (runs logged alike), checked in
    stacked blocks: a pass per check over a block rather than a dozen numpy calls per curve, which
    cost fit_batch a tenth of its time. The checks and the fitting range are prepare_curve's.
    None when the curves are not alike or any fails a check: prepare_curve then takes them one by
    one and names the first problem."""
    if len(curves) < 2 or len(law.inputs) != 1 or law.derive is not None:
        return None
    try:
        pairs = [(x, y) for x, y in curves]  # an item that is not a pair must not pass
        rows = max(1, ALIKE_VALUES // max(1, int(np.size(pairs[0][1]))))
    except Exception:  # whatever an odd item raises, prepare_curve names it
        return None
    out: list[CurveData] = []
    for start in range(0, len(pairs), rows):
        block = _alike_block(pairs[start : start + rows], law.inputs[0], x_min=x_min, x_max=x_max, n_free=n_free)
        if block is None:
            return None
        out.extend(block)
    return out


def _alike_block(
    pairs: list[tuple[Any, Any]], name: str, *, x_min: float | None, x_max: float | None, n_free: int
) -> list[CurveData] | None:
    try:
        x = np.array([p[0] for p in pairs], dtype=float)
        loss = np.array([p[1] for p in pairs], dtype=float)
    except Exception:  # ragged, not numbers, too large for a float: prepare_curve says which
        return None
    if x.ndim != 2 or loss.shape != x.shape:
        return None
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x).all() and np.isfinite(loss).all() and (loss > 0).all() and (np.diff(x) > 0).all()
    if not ok:
        return None
    # without x_min, points at x <= 0 are left out
    keep = np.greater(x, 0.0) if x_min is None else np.greater_equal(x, x_min)
    if x_max is not None:
        keep &= x <= x_max
    if not (np.where(keep, x, 1.0) > 0).all() or (keep.sum(axis=1) < n_free + 1).any():
        return None
    left_out = (x <= 0).sum(axis=1).tolist() if x_min is None else [0] * len(x)
    whole = keep.all(axis=1).tolist()
    return [
        CurveData({name: x[i]}, loss[i], left_out[i])
        if whole[i]
        else CurveData({name: x[i, keep[i]]}, loss[i, keep[i]], left_out[i])
        for i in range(len(x))
    ]


def input_field(law: Law, name: str, prefix: str = "") -> str:
    """The field an error on an input names: x for a single input or for the curve's steps, the
    column's own name for a schedule law's lr, else x.<name> (an input of the mapping x)."""
    if len(law.inputs) == 1 or (law.derive is not None and name == law.inputs[0]):
        return f"{prefix}x"
    return f"{prefix}{name}" if law.derive is not None else f"{prefix}x.{name}"


def left_out_note(results: list[FitResult], data: Sequence[CurveData]) -> list[FitResult]:
    """Each result with a note of the points at x <= 0 its fit left out (message and extra["left_out"])."""
    out = []
    for result, curve in zip(results, data, strict=True):
        if curve.left_out:
            s = "s" if curve.left_out > 1 else ""
            note = f"{curve.left_out} point{s} at x <= 0 left out (the law takes logs of x; give x_min to choose)"
            message = f"{result.message}; {note}" if result.message else note
            result = replace(result, message=message, extra={**result.extra, "left_out": float(curve.left_out)})
        out.append(result)
    return out


def _prepare_inputs(x: Any, law: Law, prefix: str) -> dict[str, np.ndarray]:
    if isinstance(x, Mapping) or hasattr(x, "columns"):
        keys = list(x.keys()) if isinstance(x, Mapping) else list(x.columns)
        missing = [name for name in law.inputs if name not in keys]
        if missing:
            raise InvalidInputError(
                f"missing input {missing[0]!r} of law {law.name} (inputs: {', '.join(law.inputs)})",
                field=input_field(law, missing[0], prefix),
            )
        return {name: as_float_array(x[name], input_field(law, name, prefix)) for name in law.inputs}
    if len(law.inputs) > 1:
        raise InvalidInputError(
            f"law {law.name} takes inputs {', '.join(law.inputs)}: pass a mapping or DataFrame",
            field=f"{prefix}x",
        )
    return {law.inputs[0]: as_float_array(x, f"{prefix}x")}


def check_fixed(law: Law, fixed: Mapping[str, float] | None) -> dict[str, float]:
    fixed = dict(fixed or {})
    for name, value in fixed.items():
        if name not in law.param_names:
            raise InvalidInputError(
                f"{name!r} is not a parameter of {law.name} ({', '.join(law.param_names)})", field="fixed"
            )
        p = law.param(name)
        if not np.isfinite(value) or not p.lower <= value <= p.upper:
            raise InvalidInputError(f"{value} is outside [{p.lower}, {p.upper}]", field=f"fixed.{name}")
    return {k: float(v) for k, v in fixed.items()}


def is_constant(loss: np.ndarray) -> bool:
    return bool(np.ptp(loss) <= 1e-12 * np.abs(loss).max())
