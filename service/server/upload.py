"""Assembles a streamed upload: each chunk is checked as it arrives, nothing is stored until the
stream has ended cleanly (the servicer then writes the curve in one transaction). UploadSlots
bounds what all open uploads hold at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np

from fitting.errors import InvalidInputError, LimitExceededError
from service.server.store import CurveMeta, CurvePoints


class UploadSlots:
    """Upload streams open at once, and the bytes of points (8 per value) they hold together.

    One per server. Uploads run on the server's event loop, so plain counters suffice.
    """

    def __init__(self, *, max_streams: int, max_bytes: int):
        self.max_streams = max_streams
        self.max_bytes = max_bytes
        self.streams = 0
        self.bytes = 0

    @contextmanager
    def open(self) -> Iterator[Callable[[int], None]]:
        """A slot for one stream, giving a function that reserves bytes as chunks arrive. Leaving
        the block, however the stream ended, frees the slot and every byte it reserved."""
        if self.streams >= self.max_streams:
            raise LimitExceededError(
                f"{self.streams} uploads are open, the most max_concurrent_uploads allows; retry later"
            )
        self.streams += 1
        held = 0

        def reserve(n_bytes: int) -> None:
            nonlocal held
            if self.bytes + n_bytes > self.max_bytes:
                raise LimitExceededError(
                    f"open uploads hold {self.bytes} bytes of points and this chunk brings {n_bytes}: "
                    f"over max_upload_bytes_in_flight ({self.max_bytes})",
                    field="chunk",
                )
            self.bytes += n_bytes
            held += n_bytes

        try:
            yield reserve
        finally:
            self.streams -= 1
            self.bytes -= held


class UploadAssembler:
    def __init__(
        self,
        meta: CurveMeta,
        *,
        max_points: int,
        expected_points: int = 0,
        reserve: Callable[[int], None] = lambda n_bytes: None,
    ):
        """reserve(n_bytes) is called for each chunk before it is kept (see UploadSlots.open)."""
        _check_header(meta)
        if expected_points < 0:
            raise InvalidInputError(f"must be >= 0, got {expected_points}", field="header.expected_points")
        if expected_points > max_points:
            raise LimitExceededError(f"{expected_points} points announced; the limit is {max_points}", field="header")
        self.expected_points = expected_points
        # with the size announced, points go straight into their final arrays (1x the payload)
        self._x_buf = np.empty(expected_points, dtype="<f8") if expected_points else None
        self._loss_buf = np.empty(expected_points, dtype="<f8") if expected_points else None
        self.meta = meta
        self.max_points = max_points
        self.reserve = reserve
        self._x: list[np.ndarray] = []
        self._loss: list[np.ndarray] = []
        self._columns: dict[str, list[np.ndarray]] = {name: [] for name in meta.extra_columns}
        self._count = 0
        self._last_x = -np.inf

    def add(self, x: Sequence[float], loss: Sequence[float], columns: Mapping[str, Sequence[float]]) -> None:
        self.reserve(8 * (len(x) + len(loss) + sum(len(v) for v in columns.values())))
        xs, ls = np.asarray(x, dtype="<f8"), np.asarray(loss, dtype="<f8")
        if xs.size != ls.size:
            raise InvalidInputError(f"chunk has {xs.size} x values but {ls.size} losses", field="chunk.loss")
        if self._count + xs.size > self.max_points:
            raise LimitExceededError(f"more than the {self.max_points} points a curve may have", field="chunk")
        if self.expected_points and self._count + xs.size > self.expected_points:
            raise InvalidInputError(
                f"more points than the {self.expected_points} the header announced", field="header.expected_points"
            )
        if set(columns) != set(self._columns):
            raise InvalidInputError(
                f"chunk columns {sorted(columns)} differ from the header's {sorted(self._columns)}",
                field="chunk.columns",
            )
        for name, values in (("chunk.x", xs), ("chunk.loss", ls)):
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInputError(f"must be finite, got {values[i]}", field=name, index=self._count + i)
        if xs.size:
            steps = np.diff(np.concatenate([[self._last_x], xs]))
            bad = steps <= 0
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInputError("x must be strictly increasing", field="chunk.x", index=self._count + i)
            self._last_x = float(xs[-1])
        for name, column in columns.items():
            col = np.asarray(column, dtype="<f8")
            if col.size != xs.size or not np.all(np.isfinite(col)):
                raise InvalidInputError("must be finite and as long as x", field=f"chunk.columns.{name}")
            if name == "lr" and (col < 0).any():  # the schedule-aware laws integrate it
                i = int(np.flatnonzero(col < 0)[0])
                raise InvalidInputError(f"a learning rate is never negative, got {col[i]}", field="chunk.columns.lr",
                                        index=self._count + i)  # fmt: skip
            self._columns[name].append(col)
        if self._x_buf is not None and self._loss_buf is not None:
            self._x_buf[self._count : self._count + xs.size] = xs
            self._loss_buf[self._count : self._count + xs.size] = ls
        else:
            self._x.append(xs)
            self._loss.append(ls)
        self._count += xs.size

    def finish(self) -> CurvePoints:
        if self._count == 0:
            raise InvalidInputError("curve is empty", field="chunk")
        if self.expected_points and self._count != self.expected_points:
            raise InvalidInputError(
                f"the stream ended after {self._count} of the {self.expected_points} points its header announced",
                field="header.expected_points",
            )
        if self._x_buf is not None and self._loss_buf is not None:
            x, loss = self._x_buf, self._loss_buf
        else:
            x, loss = np.concatenate(self._x), np.concatenate(self._loss)
        return CurvePoints(
            x,
            loss,
            {k: np.concatenate(v) for k, v in self._columns.items()},
        )


def _check_header(meta: CurveMeta) -> None:
    if not (math.isfinite(meta.tokens_per_step) and meta.tokens_per_step >= 0):
        raise InvalidInputError(
            f"must be finite and >= 0 (0: unknown), got {meta.tokens_per_step}", field="header.tokens_per_step"
        )
    if not 0 <= meta.vocab_size < 2**31:  # PostgreSQL keeps it in an INTEGER column
        raise InvalidInputError(
            f"must be >= 0 (0: unknown) and < 2**31, got {meta.vocab_size}", field="header.vocab_size"
        )
    names = list(meta.extra_columns)
    twice = [name for i, name in enumerate(names) if name in names[:i]]
    if twice:
        raise InvalidInputError(f"column {twice[0]!r} is named twice", field="header.extra_columns")
