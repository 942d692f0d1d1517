"""Report figures (service/server/reports/figures.py): the format asked for, a caption that says how the fits were
made, the extrapolated region and the AR = 1 line, and honest axes on the SIM-vs-CR panel; a comparison stored
as a message (a job's) comes back whole and is drawn with the intervals it stored."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import fitting
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service.formatting import interval
from service.report_formats import format_of
from service.server import convert
from service.server.reports.figures import LabelledCurve, caption, render
from trainers.outcome import JobOutcome, OuterIteration, PolicyMetrics

FIT = {"L0": 0.05, "B": 3e8, "beta": 0.12}
OUTCOME = JobOutcome(
    task="perceptron", steps=500, train_size=64, n_params=8, label_space=2, fit_from=50, outer_iters=1, device="cpu",
    conventional=PolicyMetrics(auc=125.0, cr=4.00, cr_desired=4.0, sim=0.41, fit=FIT, r2=0.99),
    optimal=PolicyMetrics(auc=124.6, cr=4.012, cr_desired=4.01, sim=0.52, fit=FIT, r2=0.99), ar_fit=None,
    ar_measured=None, ar_desired=None, db_over_b=None, dbeta_over_beta=None, zero_weight_fraction=0.9,
    well_learned_share=None, best_iteration=1, snapshots_held=None,
    history=(OuterIteration(0, j_desired=125.0, j_holdout=125.0, j_test=500 / 4.004, lr=0.1, seconds=1.0),),
    checkpoints=(), timings={"total": 1.0}, artifacts=None, warnings=(),
)  # fmt: skip


@pytest.fixture(scope="module")
def drawn() -> tuple[list[LabelledCurve], fitting.ComparisonResult]:
    x = np.arange(1.0, 501.0)
    rng = np.random.default_rng(0)
    noisy = [
        (0.05 + (B / x) ** beta) * np.exp(0.01 * rng.standard_normal(x.size)) for B, beta in ((3e8, 0.12), (2e7, 0.14))
    ]
    comparison = fitting.compare_curves((x, noisy[0]), [(x, noisy[1])], x_min=50, bootstrap=39, target_losses=[6.0])
    return [LabelledCurve("conventional", x, noisy[0]), LabelledCurve("near-optimal", x, noisy[1])], comparison


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_each_format_is_what_it_says(drawn, fmt: str, magic: bytes) -> None:  # type: ignore[no-untyped-def]
    content = render(*drawn, fmt=fmt, job_outcome=OUTCOME, x_min=50, bootstrap=39)
    assert content.startswith(magic)


def test_an_unknown_format_is_refused(drawn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="no report format 'jpg'"):
        render(*drawn, fmt="jpg")
    assert format_of("r.PDF") == "pdf" and format_of("r.html") == "html" and format_of("r.jpg") is None


def test_the_svg_says_how_it_was_made_and_marks_what_is_extrapolated(drawn) -> None:  # type: ignore[no-untyped-def]
    text = caption(drawn[1], 50, 39)
    assert "x_min = 50" in text and "L0 + (B / x)^beta" in text and "39 bootstrap resamples" in text
    svg = render(*drawn, fmt="svg", job_outcome=OUTCOME, x_min=50, bootstrap=39).decode()
    for label in ("extrapolated", "AR = 1: no speed-up", "AR measured (95 % interval)", "x_min: fits start",
                  "CR +0.3 %", "39 bootstrap resamples"):  # fmt: skip
        assert label in svg, label
    assert "beta = 0.1" in svg and "[" in svg  # fitted parameters with their intervals in the legend


def test_the_report_rpc_renders_pdf(client) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(1.0, 301.0)
    base = client.upload_curve(x, 0.05 + (3e8 / x) ** 0.12, name="conventional").id
    cand = client.upload_curve(x, 0.05 + (2e7 / x) ** 0.14, name="near-optimal").id
    request = pb.RenderReportRequest(
        curves=pb.CurveSet(baseline_id=base, candidate_ids=[cand]), format=pb.REPORT_FORMAT_PDF,
        options=pb.FitOptions(x_min=30, bootstrap=39),
    )  # fmt: skip
    reply = client._stub.RenderReport(request, timeout=60)
    assert reply.media_type == "application/pdf" and reply.content.startswith(b"%PDF")


def test_a_measured_interval_beside_its_value_is_drawn(drawn) -> None:  # type: ignore[no-untyped-def]
    """Noiseless curves (full-batch training) give percentile intervals that can miss the value by
    1e-6 (the demo's job: AR 8.43 [8.4301, 8.4303]); the figure draws it rather than failing."""
    curves, comparison = drawn
    cand = comparison.candidates[0]
    first = cand.accelerations[0]
    ar = first.ar_measured
    shifted = replace(first, ar_measured=replace(ar, low=ar.value * (1 + 1e-6), high=ar.value * (1 + 2e-6)))
    moved = replace(comparison, candidates=[replace(cand, accelerations=[shifted, *cand.accelerations[1:]])])
    assert render(curves, moved, fmt="png", job_outcome=OUTCOME, x_min=50, bootstrap=39).startswith(b"\x89PNG")


def _wire(result: fitting.ComparisonResult) -> bytes:
    """The message's bytes, less n_bootstrap: the domain keeps it only as the samples, which the
    message does not carry."""
    message = convert.comparison_to_pb(result, "c-base", ["c-cand"])
    for fit in (message.baseline_fit, *(c.fit for c in message.candidates)):
        fit.n_bootstrap = 0
    return message.SerializeToString(deterministic=True)


def test_a_stored_comparison_comes_back_as_it_was_sent(drawn) -> None:  # type: ignore[no-untyped-def]
    (x, base), (_, cand) = ((c.x, c.loss) for c in drawn[0])
    no_rates = fitting.compare_curves((x, base), [(x, cand)], law="power", shared=(), x_min=50, bootstrap=0)
    for result in (drawn[1], no_rates):
        back = convert.comparison_from_pb(pb.Comparison.FromString(_wire(result)))
        assert _wire(back) == _wire(result)
        assert (back.candidates[0].improvement is None) == (result.candidates[0].improvement is None)
    message = convert.comparison_to_pb(drawn[1], "c-base", ["c-cand"])
    first = message.candidates[0].accelerations[0]
    assert first.ar_empirical == first.ar_measured.estimate.value  # deprecated, still filled for older clients
    assert list(message.baseline_fit.param_names) == ["L0", "B", "beta"]
    assert message.baseline_fit.formula == "L0 + (B / x)^beta"


def test_a_stored_comparison_is_drawn_with_the_intervals_it_stored(drawn) -> None:  # type: ignore[no-untyped-def]
    """Its fits carry no resamples to draw a band from: the stored AR fit intervals are drawn at
    their horizons, with their values written as the tables write them."""
    curves, comparison = drawn
    stored = convert.comparison_from_pb(convert.comparison_to_pb(comparison, "c-base", ["c-cand"]))
    svg = render(curves, stored, fmt="svg", x_min=50, bootstrap=39).decode()
    fitted = [a.ar_fit for a in comparison.candidates[0].accelerations]
    assert "AR fit (95 % interval): " + ", ".join(interval(e.value, e.low, e.high) for e in fitted) in svg
    assert "AR fit, 95 % interval" not in svg  # no band without the resamples
