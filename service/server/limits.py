"""What one request may cost, checked before the work starts (README, "Security and limits").

Each check raises LimitExceededError (RESOURCE_EXHAUSTED) naming the setting that bounds it, or
InvalidInputError (INVALID_ARGUMENT) for a request that is wrong whatever the limits. The servicer
and the upload assembler call these; no check here reads more than the request and metadata.

The cost of a fit is counted in point-resamples: per curve, the larger of its points inside the
fitting range (the fit to every point) and the resamples asked for times the points each resample
is refitted on (all of them on a short curve; on a long one the log-spaced bins of
fitting/binned.py, so its resamples cost what a short curve's do), summed over the request's
curves. Measured peak memory is 160-350 bytes per point-resample (a bootstrap refits every resample
at once), so `max_point_resamples` bounds the memory and, near enough, the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

import fitting
from fitting.binned import resample_points
from fitting.errors import InvalidInputError, LimitExceededError, ScalingLawError
from service.server.store import CurveMeta
from service.settings import Settings
from trainers.config import RunSpec
from trainers.corpus import is_builtin
from trainers.footprint import estimate_peak_bytes

DEFAULT_RESAMPLES = 200  # CompareCurves and RenderReport when the request does not say
MAX_BACKTEST_LAWS = 16  # laws one backtest compares; each is parsed on the event loop
MAX_TRAIN_FRACTIONS = 16
REPLY_MARGIN = 4096  # bytes of a listing reply kept for its token and framing


def check_curve_ids(ids: Sequence[str], field: str, settings: Settings) -> None:
    """At most max_curves_per_request ids, none twice (a repeated id is work the caller already asked for)."""
    if len(ids) > settings.max_curves_per_request:
        raise LimitExceededError(
            f"{len(ids)} curve ids; max_curves_per_request is {settings.max_curves_per_request}", field=field
        )
    first: dict[str, int] = {}
    for index, cid in enumerate(ids):
        if cid in first:
            raise InvalidInputError(f"repeats curve id {cid!r} (first at {first[cid]})", field=field, index=index)
        first[cid] = index


def check_loaded_points(n_points: Sequence[int], field: str, settings: Settings) -> None:
    """Before any points are read: a request reads at most max_points points across its curves."""
    total = sum(n_points)
    if total > settings.max_points:
        raise LimitExceededError(
            f"the curves hold {total} points together; one request may read at most max_points ({settings.max_points})",
            field=field,
        )


def points_in_range(x: np.ndarray, x_min: float | None, x_max: float | None) -> int:
    """Points with x_min <= x <= x_max (x is strictly increasing, as stored)."""
    lo = 0 if x_min is None else int(np.searchsorted(x, x_min, side="left"))
    hi = x.size if x_max is None else int(np.searchsorted(x, x_max, side="right"))
    return max(hi - lo, 0)


def check_resamples(points: Sequence[int], options: fitting.FitOptions, field: str, settings: Settings) -> None:
    """The resamples of `options` against max_bootstrap, and the point-resamples of curves with
    `points` each (in range) against max_point_resamples; a refusal says what would pass."""
    resamples = options.bootstrap
    if resamples > settings.max_bootstrap:  # memory grows with resamples x points
        raise LimitExceededError(
            f"{resamples} resamples asked; max_bootstrap is {settings.max_bootstrap}: "
            f"ask for at most {settings.max_bootstrap}",
            field=field,
        )
    cost = point_resamples(points, options, resamples)
    limit = settings.max_point_resamples
    if cost > limit:
        most = affordable_resamples(points, options, settings)
        hint = f"ask for at most {most} resamples, or " if resamples > 1 and most >= 1 else ""
        raise LimitExceededError(
            f"{sum(points)} points x {max(1, resamples)} resamples = {cost} point-resamples; max_point_resamples is "
            f"{limit}: {hint}fit fewer points (x_min, x_max)",
            field=field,
        )


def check_backtest_counts(n_laws: int, n_fractions: int) -> None:
    """Before any law is parsed: at most MAX_BACKTEST_LAWS laws and MAX_TRAIN_FRACTIONS fractions."""
    if n_laws > MAX_BACKTEST_LAWS:
        raise LimitExceededError(f"{n_laws} laws; one backtest compares at most {MAX_BACKTEST_LAWS}", field="laws")
    if n_fractions > MAX_TRAIN_FRACTIONS:
        raise LimitExceededError(
            f"{n_fractions} fractions; one backtest takes at most {MAX_TRAIN_FRACTIONS}", field="train_fractions"
        )


def check_backtest_cost(points_fitted: int, n_laws: int, resamples: int, settings: Settings) -> None:
    """A backtest fits every law on every curve at every train fraction (and on every pair's first
    curve): points_fitted (the points of those curves in range, times the fractions, at most) x
    laws x max(1, resamples) against max_point_resamples, as a fit of that many points would be."""
    if resamples > settings.max_bootstrap:
        raise LimitExceededError(
            f"{resamples} resamples asked; max_bootstrap is {settings.max_bootstrap}", field="options.bootstrap"
        )
    cost = points_fitted * n_laws * max(1, resamples)
    limit = settings.max_point_resamples
    if cost > limit:
        raise LimitExceededError(
            f"{points_fitted} points fitted (curves x train fractions) x {n_laws} laws x {max(1, resamples)} "
            f"resamples = {cost} point-resamples; max_point_resamples is {limit}: ask for fewer resamples, laws "
            "or fractions, or fit fewer points (x_min, x_max)",
            field="options.bootstrap",
        )


def point_resamples(points: Sequence[int], options: fitting.FitOptions, resamples: int) -> int:
    """What fitting curves of `points` each with `resamples` costs (the module's docstring)."""
    try:
        n_inputs = len(options.resolve_law().inputs)
    except ScalingLawError:  # the fit refuses such a law itself, naming its field; count every point
        n_inputs = 0
    each = [resample_points(n, n_inputs, options.resample_bins) for n in points]
    return sum(max(n, max(1, resamples) * r) for n, r in zip(points, each, strict=True))


def affordable_resamples(points: Sequence[int], options: fitting.FitOptions, settings: Settings) -> int:
    """The most resamples within max_bootstrap and max_point_resamples (0 where none are)."""
    low, high = 0, settings.max_bootstrap
    while low < high:  # the cost grows with the resamples: bisect
        mid = (low + high + 1) // 2
        if point_resamples(points, options, mid) <= settings.max_point_resamples:
            low = mid
        else:
            high = mid - 1
    return low


def default_resamples(points: Sequence[int], options: fitting.FitOptions, settings: Settings) -> int:
    """A comparison's resamples when the request leaves them to the server: DEFAULT_RESAMPLES, or
    fewer where the curves are too long for them (the reply's n_bootstrap says how many); at least one."""
    return max(1, min(DEFAULT_RESAMPLES, affordable_resamples(points, options, settings)))


def check_count(values: Sequence[object], field: str, settings: Settings) -> None:
    """Horizons and target losses of one comparison; budgets of one plan."""
    if len(values) > settings.max_horizons:
        raise LimitExceededError(f"{len(values)} values; max_horizons is {settings.max_horizons}", field=field)


NUMERIC_PLAN_COST = 10  # a law in N and D without a closed form: a grid and a golden section per optimum


def check_plan(n_budgets: int, n_resamples: int, closed_form: bool, settings: Settings) -> None:
    """A plan's optima, budgets x the fit's resamples (and the estimate), counted as point-resamples
    (measured: a closed-form optimum costs about one, a numeric one about ten) against
    max_point_resamples."""
    cost = n_budgets * (n_resamples + 1) * (1 if closed_form else NUMERIC_PLAN_COST)
    if cost > settings.max_point_resamples:
        most = settings.max_point_resamples // ((n_resamples + 1) * (1 if closed_form else NUMERIC_PLAN_COST))
        raise LimitExceededError(
            f"{n_budgets} budgets x {n_resamples + 1} parameter sets"
            f"{'' if closed_form else f' x {NUMERIC_PLAN_COST} (no closed form)'} = {cost} point-resamples; "
            f"max_point_resamples is {settings.max_point_resamples}: ask for at most {most} budgets",
            field="budgets",
        )


def chunk_limit(n_columns: int, settings: Settings) -> int:
    """Points one chunk may carry either way: max_chunk_points, and what fits in one message."""
    per_point = 8 * (2 + n_columns)
    return max(1, min(settings.max_chunk_points, (settings.max_message_bytes - REPLY_MARGIN) // per_point))


def check_chunk(n_points: int, n_columns: int, field: str, settings: Settings) -> None:
    limit = chunk_limit(n_columns, settings)
    if n_points > limit:
        raise LimitExceededError(
            f"{n_points} points in one chunk; at most {limit} (max_chunk_points, max_message_bytes)", field=field
        )


def check_text(value: str, field: str, settings: Settings, limit: int | None = None) -> None:
    """A name, id or label: at most max_name_bytes (labels' values: max_label_bytes) of UTF-8."""
    limit = settings.max_name_bytes if limit is None else limit
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        setting = "max_name_bytes" if limit == settings.max_name_bytes else "max_label_bytes"
        raise LimitExceededError(f"{size} bytes; {setting} is {limit}", field=field)


def check_meta(meta: CurveMeta, settings: Settings) -> None:
    """A curve's header: names, extra columns and labels, before anything is kept."""
    for name in ("name", "policy", "study", "split", "x_unit", "request_id"):
        check_text(getattr(meta, name), f"header.{name}", settings)
    if len(meta.extra_columns) > settings.max_extra_columns:
        raise LimitExceededError(
            f"{len(meta.extra_columns)} extra columns; max_extra_columns is {settings.max_extra_columns}",
            field="header.extra_columns",
        )
    for index, column in enumerate(meta.extra_columns):
        check_text(column, f"header.extra_columns[{index}]", settings)
    if len(meta.labels) > settings.max_labels:
        raise LimitExceededError(
            f"{len(meta.labels)} labels; max_labels is {settings.max_labels}", field="header.labels"
        )
    for key, value in meta.labels.items():
        check_text(key, "header.labels", settings)
        check_text(value, f"header.labels[{key[:64]!r}]", settings, limit=settings.max_label_bytes)


def check_job(spec: RunSpec, settings: Settings) -> RunSpec:
    """A training job as it will run: its corpus built in or from corpus_dir, every field valid
    (InvalidInputError naming it), its bootstrap and its estimated peak memory within the limits."""
    corpus = spec.transformer.corpus
    if corpus and not is_builtin(corpus):  # a path on this server: only inside corpus_dir
        spec = replace(spec, transformer=replace(spec.transformer, corpus=corpus_path(corpus, settings)))
    spec.validate()
    if spec.bootstrap > settings.max_bootstrap:
        raise LimitExceededError(
            f"{spec.bootstrap} resamples asked; max_bootstrap is {settings.max_bootstrap}", field="bootstrap"
        )
    estimated_bytes = estimate_peak_bytes(spec)
    if estimated_bytes > settings.max_job_memory_bytes:
        raise LimitExceededError(
            f"the run would need about {estimated_bytes / 2**30:.3g} GiB at its peak; max_job_memory_bytes is "
            f"{settings.max_job_memory_bytes / 2**30:.3g} GiB: ask for fewer steps, examples or parameters",
            field="request",
        )
    return spec


def corpus_path(value: str, settings: Settings) -> str:
    """A job's corpus as a path inside corpus_dir. Any other path, existing or not, gets the same
    answer, so a caller learns nothing about the server's files."""
    refusal = InvalidInputError(
        "must name a non-empty file in the server's corpus directory (SCALINGLAW_CORPUS_DIR), relative to it",
        field="transformer.corpus",
    )
    if settings.corpus_dir is None or "\x00" in value:
        raise refusal
    root = settings.corpus_dir.resolve()
    path = (root / value).resolve()  # an absolute value replaces root; symlinks are followed, then checked
    try:
        inside = path.is_relative_to(root) and path.is_file() and path.stat().st_size > 0
    except OSError:
        inside = False
    if not inside:
        raise refusal
    return str(path)


def reply_budget(settings: Settings) -> int:
    """Bytes of items one listing reply may carry: the message limit, less room for the rest."""
    return settings.max_message_bytes - REPLY_MARGIN


def check_prediction(x: Sequence[float], lr: Sequence[float], settings: Settings) -> None:
    """A prediction's steps: at most max_points of them, and one learning rate each when given."""
    if not x:
        raise InvalidInputError("give the steps to predict at", field="x")
    if len(x) > settings.max_points:
        raise LimitExceededError(f"{len(x)} steps; one prediction takes at most max_points ({settings.max_points})",
                                 field="x")  # fmt: skip
    if lr and len(lr) != len(x):
        raise InvalidInputError(f"{len(lr)} learning rates for {len(x)} steps", field="lr")
