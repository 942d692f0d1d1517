"""Uploading the curves service/client/importers read, one source at a time.

A source (a file, a log directory, an MLflow run set) is read and checked whole before its first
curve is sent, so a bad row stores nothing. Each curve's upload is atomic on the server, but a
source's curves go up one by one: should one fail (or Ctrl-C arrive) after others of the same
source were stored, those are deleted again. That undo is best effort, by this client: if the
process dies, the server goes away or a delete fails, the curves stored so far stay, and other
callers can see them meanwhile. Curves the server skipped as duplicates were stored before, by an
earlier upload, and are never deleted here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.client.errors import InvalidArgument
from service.client.importers import LogCurve
from service.models import CurveInfo

# `client` below is a service.client.ScalingLawClient, typed Any: the client imports this module
ClientLike = Any


@dataclass
class SourceResult:
    """What one source gave: its stored curves, or why none was stored."""

    source: str
    curves: list[CurveInfo] = field(default_factory=list)
    error: str = ""
    dropped: int = 0  # rows --dropna left out, over its curves

    @property
    def ok(self) -> bool:
        return not self.error


def upload_log_curves(client: ClientLike, curves: Sequence[LogCurve], **meta: Any) -> list[CurveInfo]:
    """Upload every curve (name from each LogCurve unless meta names one); on a failure, delete
    those this call stored, then raise the failure."""
    stored: list[CurveInfo] = []
    try:
        for curve in curves:
            kwargs = {"name": curve.name, **meta} if curve.name and "name" not in meta else meta
            try:
                stored.append(client.upload_curve(curve.x, curve.loss, columns=curve.columns or None, **kwargs))
            except InvalidArgument as exc:
                raise _in_rows(exc, curve) from None
    except BaseException:  # Ctrl-C too: undo what this source stored (best effort, see above)
        _undo(client, stored)
        raise
    return stored


_POINT = re.compile(r"^(x|loss)\[(\d+)\]: (.*)$")  # as the client words a refused point


def _in_rows(exc: InvalidArgument, curve: LogCurve) -> InvalidArgument:
    """The server's refusal of a point ("loss[7]: must be finite") in the log's terms
    ("baseline.csv row 8: loss: must be finite"); other refusals pass as they are."""
    violations = []
    for v in exc.field_violations:
        m = _POINT.match(v)
        if m and int(m.group(2)) < curve.rows.size:
            what = "step" if m.group(1) == "x" else "loss"
            named = f"{curve.name}: " if curve.name and curve.name not in curve.source else ""
            v = f"{curve.where(int(m.group(2)))}: {named}{what}: {m.group(3)}"
        violations.append(v)
    message = violations[0] if violations and violations != exc.field_violations else exc.message
    return type(exc)(exc.code, message, violations)


def upload_sources(
    client: ClientLike,
    sources: Sequence[tuple[str, Callable[[], list[LogCurve]]]],
    error_types: tuple[type[Exception], ...],
    **meta: Any,
) -> list[SourceResult]:
    """Each (name, read) in turn: read() gives the source's curves; an error of error_types (a
    bad file, a refused upload) marks that source not stored and the next one goes on."""
    results = []
    for source, read in sources:
        result = SourceResult(source)
        try:
            curves = read()
            result.dropped = sum(c.dropped for c in curves)
            result.curves = upload_log_curves(client, curves, **meta)
        except error_types as exc:
            result.error = getattr(exc, "message", None) or str(exc)
            violations = getattr(exc, "field_violations", [])
            if violations:
                result.error += " (" + "; ".join(violations[:3]) + ")"
        results.append(result)
    return results


def _undo(client: ClientLike, stored: list[CurveInfo]) -> None:
    for info in stored:
        if info.skipped:
            continue
        # the server gone away: the caller is told the source failed regardless
        with contextlib.suppress(Exception):
            client.delete_curve(info.id)
