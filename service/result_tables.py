"""The tables the CLI prints and the server's HTML report embeds, built once from the reply models.

A Table holds cells already formatted for people (service/formatting.py), so the terminal and the
HTML report show the same digits. Parameters keep the law's own order (L0, B, beta), never the
order a dict happened to arrive in, and every estimate carries its 95 % interval as [low, high].
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from service import models as c
from service.formatting import MISSING, age, interval, number, percent


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]] = ()
    note: str = ""  # lines under the table: what an unusual cell means, why a number is marked


def to_text(table: Table, *, titled: bool = True) -> str:
    widths = [max([len(col), *(len(row[i]) for row in table.rows)]) for i, col in enumerate(table.columns)]
    lines = [table.title] if titled and table.title else []
    lines.append("  ".join(col.ljust(w) for col, w in zip(table.columns, widths, strict=True)).rstrip())
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table.rows]
    if table.note:
        lines.append(table.note)
    return "\n".join(lines)


def to_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(col)}</th>" for col in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    note = f"<p class='note'>{html.escape(table.note).replace(chr(10), '<br>')}</p>" if table.note else ""
    title = f"<h3>{html.escape(table.title)}</h3>" if table.title else ""
    return f"{title}<table><tr>{head}</tr>{body}</table>{note}"


def curve_label(info: c.CurveInfo) -> str:
    """What people call a curve: its policy, else its name, else its id; the report figure's
    legend (servicer.RenderReport) labels curves the same way, so tables and figure agree."""
    return info.policy or info.name or info.id


def param_order(fit: c.FitInfo) -> list[str]:
    """The fit's parameters in its law's order, as the server declares it (step_power: L0, B,
    beta); any it does not declare follow in alphabetical order, so two runs print the same columns."""
    declared = [n for n in fit.param_names if n in fit.params]
    return declared + sorted(n for n in fit.params if n not in declared)


def fit_table(fits: Sequence[c.FitInfo], names: Mapping[str, str] | None = None) -> Table:
    """One row per fit: each parameter as value [low, high]."""
    names = names or {}
    params: list[str] = []
    for fit in fits:
        params += [p for p in param_order(fit) if p not in params]
    columns = ("fit", "curve", "law", *params, "r2", "status", "verdict")
    rows = [
        (
            fit.id,
            names.get(fit.curve_id, fit.curve_id),
            fit.law,
            *(_param(fit, p) for p in params),
            number(fit.r2),
            fit.status,
            verdict_word(fit.verdict),
        )
        for fit in fits
    ]
    note = "\n".join(filter(None, (_intervals_note(fits, names), _poor_note(fits, names))))
    return Table("Fits (95 % intervals in brackets)", columns, rows, note=note)


def verdict_word(v: c.VerdictInfo) -> str:
    """good: the law describes the curve; poor: it does not (the numbers carry POOR_MARK)."""
    return "good" if v.judged and v.good else "poor" if v.judged else MISSING


POOR_MARK = " (!)"  # after a fit-based number whose verdict is poor: shown with the warning, never bare


def flagged(text: str, v: c.VerdictInfo) -> str:
    """A fit-based number, marked when its verdict says it is not to be read."""
    return text + POOR_MARK if v.poor and text != MISSING else text


def _floor_note(comparison: c.ComparisonInfo) -> str:
    """Whether one floor L0 was shared, and the test that decided it."""
    return f"floor: {comparison.shared_floor.reason}" if comparison.shared_floor.tested else ""


def _intervals_note(fits: Sequence[c.FitInfo], names: Mapping[str, str]) -> str:
    """How many resamples the intervals come from (a comparison's are the server's choice unless
    asked for), and what each fit says of itself (a long curve's resamples refitted on bins, points
    left out, a parameter run to its bound)."""
    counts = sorted({f.n_bootstrap for f in fits if f.n_bootstrap})
    lines = [f"intervals: {' or '.join(map(str, counts))} bootstrap resamples"] if counts else []
    lines += [f"{names.get(f.curve_id) or f.curve_id}: {f.message}" for f in fits if f.message]
    return "\n".join(lines)


def _poor_note(fits: Sequence[c.FitInfo], names: Mapping[str, str]) -> str:
    """One line per fit whose law does not describe its curve, with the reason."""
    lines = [f"poor: {names.get(f.curve_id, f.curve_id)}: {f.verdict.reason}" for f in fits if f.verdict.poor]
    return "\n".join(lines)


def comparison_tables(
    comparison: c.ComparisonInfo, names: Mapping[str, str] | None = None, target_losses: Sequence[float] = ()
) -> list[Table]:
    """Fits and CR of every curve; AR fitted and measured at each horizon; speed-ups at the target
    losses; the coefficient changes. `names` maps curve ids to what people call the curves."""
    names = names or {}

    def name(curve_id: str) -> str:
        return names.get(curve_id) or curve_id

    fits = [(comparison.baseline_id, "baseline", comparison.baseline_fit, comparison.baseline_cr)]
    fits += [(cand.curve_id, "candidate", cand.fit, cand.cr) for cand in comparison.candidates]
    curve_fits = [f for *_, f, _ in fits]
    params = param_order(comparison.baseline_fit)
    shared = set(comparison.baseline_fit.shared)
    cr_note = f"CR: {comparison.cr_units}; '-' where the curve has no vocabulary size" if comparison.cr_units else ""
    curves = Table(
        f"Curves and fitted laws ({comparison.baseline_fit.law})",
        ("curve", "id", "role", *(f"{p} (shared)" if p in shared else p for p in params), "CR", "r2", "status",
         "verdict"),
        [
            (name(cid), cid, role, *(_param(fit, p) for p in params), number(cr), number(fit.r2), fit.status,
             verdict_word(fit.verdict))
            for cid, role, fit, cr in fits
        ],
        note="\n".join(filter(None, (cr_note, _floor_note(comparison), _intervals_note(curve_fits, names),
                                      _poor_note(curve_fits, names)))),
    )  # fmt: skip
    poor = [cand for cand in comparison.candidates if cand.verdict.poor]
    warning = "".join(f"\n(!) {name(cand.curve_id)}: not to be read bare: {cand.verdict.reason}" for cand in poor)
    ar = Table(
        f"Acceleration ratio AR(T) against {name(comparison.baseline_id)}",
        ("candidate", "horizon T", "AR fit [low, high]", "AR measured [low, high]"),
        [
            (
                name(cand.curve_id),
                number(h),
                flagged(interval(e.value, e.low, e.high), cand.verdict),
                measured(cand.ar_measured.get(h)),
            )
            for cand in comparison.candidates
            for h, e in cand.ar_fit.items()
        ],
        note="AR fit: from the fitted laws (extrapolated past the last step); AR measured: read off the "
        "curves ('-' past their last step)" + warning,
    )
    tables = [curves, ar]
    losses = list(dict.fromkeys([*target_losses, *(t for cand in comparison.candidates for t in cand.speedups)]))
    if losses:
        tables.append(
            Table(
                "Speed-up at target loss (baseline steps / candidate steps)",
                ("candidate", "target loss", "speed-up fit [low, high]", "speed-up measured [low, high]"),
                [
                    (
                        name(cand.curve_id),
                        number(t),
                        flagged(estimate_from_pb(cand.speedups.get(t)), cand.verdict),
                        measured(cand.speedups_measured.get(t)),
                    )
                    for cand in comparison.candidates
                    for t in losses
                ],
                note="measured '-': a curve does not reach the loss within its steps",
            )
        )
    tables.append(
        Table(
            "Coefficient change against the baseline",
            ("candidate", "|dB/B| [low, high]", "|dbeta/beta| [low, high]"),
            [
                (
                    name(cand.curve_id),
                    flagged(estimate_from_pb(cand.b_improvement), cand.verdict),
                    flagged(estimate_from_pb(cand.beta_improvement), cand.verdict),
                )
                for cand in comparison.candidates
            ],
        )
    )
    return tables


def measured(m: c.MeasuredInfo | None) -> str:
    """A ratio read off the curves, or what its missed crossing implies."""
    if m is None:
        return MISSING
    if m.reach == "never":
        return f"< {number(m.bound)} (never reached)"
    if m.reach == "before_first_point":
        return f"> {number(m.bound)} (before the first point)"
    if m.reach != "measured":
        return MISSING  # outside the measured range: there is nothing to read
    return interval(m.value, m.low, m.high)


def backtest_table(rows: Sequence[c.BacktestRowInfo], names: Mapping[str, str] | None = None) -> Table:
    """The leaderboard: setting by setting (a curve and its train fraction, or fit on -> predict),
    each setting's laws by mean error, the first ranked 1."""
    names = names or {}
    columns = ("setting", "rank", "law", "final err", "mean err", "worst err", "in band", "train/held-out", "status")
    out = []
    for r in rows:
        fit_on, predict_on = names.get(r.fit_on, r.fit_on), names.get(r.predict_on, r.predict_on)
        setting = f"{fit_on} -> {predict_on}" if r.fit_on != r.predict_on else f"{fit_on} @ {r.train_fraction:g}"
        out.append((
            setting, str(r.rank) if r.rank else MISSING, r.law, _error(r.final_error, "+"), _error(r.mean_error),
            _error(r.worst_error), percent(r.coverage), f"{r.n_train}/{r.n_held_out}", r.status,
        ))  # fmt: skip
    failed = [f"{r.law} on {names.get(r.fit_on, r.fit_on)}: {r.message}" for r in rows if r.status == "failed"]
    note = "errors (P - L) / L on the held-out part; final err signed (< 0: predicts too low a loss); " + (
        "in band: held-out points inside the 95 % prediction band" if any(r.n_bootstrap for r in rows)
        else "no band without --bootstrap"
    )  # fmt: skip
    return Table("Backtest: fitted on the first part, predicting the rest", columns, out,
                 note="\n".join([note, *failed]))  # fmt: skip


def _error(value: float, sign: str = "") -> str:
    """A relative error in percent to 0.01 % (a good extrapolation is off by tenths of one)."""
    return MISSING if value != value else f"{100 * value:{sign}.2f}%"


def jobs_table(jobs: Sequence[c.JobInfo], now: datetime | None = None) -> Table:
    """With a replica column where any job names one (servers sharing a database)."""
    now = now or datetime.now(UTC)
    replicas = any(job.replica for job in jobs)
    rows = [
        (
            job.id,
            job.state,
            job.task,
            percent(job.progress),
            age((now - job.created_at).total_seconds()) if job.created_at else MISSING,
            job.study or MISSING,
            *((job.replica or MISSING,) if replicas else ()),
            job.error or job.message,
        )
        for job in jobs
    ]
    columns = ("job", "state", "task", "progress", "age", "study", *(("replica",) if replicas else ()), "message")
    return Table("Jobs, oldest first", columns, rows)


def job_table(job: c.JobInfo) -> Table:
    s = job.summary
    row = (
        job.id,
        job.state,
        percent(job.progress),
        *_ar_at_steps(job.comparison),
        number(s.get("cr_conventional")),
        number(s.get("cr_optimal")),
        job.error,
    )
    columns = (
        "job", "state", "progress", "AR fit [low, high]", "AR measured [low, high]", "CR conv", "CR opt", "error",
    )  # fmt: skip
    return Table("", columns, [row])


def _ar_at_steps(comparison: c.ComparisonInfo | None) -> tuple[str, str]:
    """AR fitted and measured at the job's own horizon T (its comparison's first), as the job
    stored them; '-' for a job with no comparison (not finished, or no near-optimal run)."""
    if comparison is None or not comparison.candidates or not comparison.candidates[0].ar_fit:
        return MISSING, MISSING
    cand = comparison.candidates[0]
    horizon = next(iter(cand.ar_fit))
    return flagged(estimate_from_pb(cand.ar_fit[horizon]), cand.verdict), measured(cand.ar_measured.get(horizon))


def _param(fit: c.FitInfo, name: str) -> str:
    if name not in fit.params:
        return MISSING
    low, high = fit.ci.get(name, (None, None))
    return interval(fit.params[name], low, high)


def estimate_from_pb(e: c.EstimateInfo | None) -> str:
    return MISSING if e is None else interval(e.value, e.low, e.high)
