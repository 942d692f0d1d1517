"""PlanCompute end to end against a real server: a table of final losses uploaded with one CLI
command, fitted with chinchilla, then planned through the client (a DataFrame), the CLI (a table)
and the figure; the plan equals the library's on the same fit, resamples and all. Bad input is
refused naming the field."""

from __future__ import annotations

import math
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fitting
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.cli import main
from service.client import CurveInfo, InvalidArgument, NotFound, ResourceExhausted, ScalingLawClient
from service.plan_models import PLAN_COLUMNS
from tests.fitting.test_compute_optimal import REPLICATION, chinchilla_like_runs

from .conftest import RunningServer, start

BUDGETS = [1e21, 5.76e23]


@pytest.fixture
def runs() -> dict[str, np.ndarray]:
    return chinchilla_like_runs(np.random.default_rng(2), noise=0.008)


def upload(client: ScalingLawClient, runs: dict[str, np.ndarray]) -> CurveInfo:
    """The runs as a point set: x the row number, the inputs N and D as columns."""
    return client.upload_curve(
        np.arange(1.0, runs["N"].size + 1), runs["loss"], columns={"N": runs["N"], "D": runs["D"]}
    )


def test_a_point_set_uploaded_by_the_cli_is_planned_as_the_library_plans_it(
    server: RunningServer, client: ScalingLawClient, runs: dict[str, np.ndarray], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    table = tmp_path / "chinchilla_runs.csv"
    pd.DataFrame({"N": runs["N"], "D": runs["D"], "loss": runs["loss"]}).to_csv(table, index=False)
    target = ["--target", server.target]
    assert main([*target, "upload", str(table), "--input-col", "N", "--input-col", "D", "--json"]) == 0
    (curve,) = client.list_curves()
    assert sorted(curve.columns) == ["D", "N"] and curve.n_points == runs["N"].size
    (fit,) = client.fit([curve.id], law="chinchilla", bootstrap=200)
    assert fit.n_bootstrap == 200
    frame = client.plan(fit.id, BUDGETS, figure=tmp_path / "plan.png")
    assert list(frame.columns) == PLAN_COLUMNS and frame["budget"].tolist() == BUDGETS
    # the library's plan of the same fit: the stored resamples came back bit for bit
    local = fitting.fit_curve({"N": runs["N"], "D": runs["D"]}, runs["loss"], "chinchilla", bootstrap=200, seed=0)
    mine = fitting.compute_optimal(local, BUDGETS, data=runs)
    for row, want in zip(frame.itertuples(), mine.rows, strict=True):
        for name in ("n_opt", "d_opt", "tokens_per_param", "loss"):
            e = getattr(want, name)
            got = (getattr(row, name), getattr(row, f"{name}_low"), getattr(row, f"{name}_high"))
            assert got == pytest.approx((e.value, e.low, e.high), rel=1e-9), name
        assert row.extrapolation == pytest.approx(want.extrapolation)
    plan = frame.attrs["plan"]
    assert plan["n_resamples"] == 200 and plan["method"] == "closed form"
    assert plan["a"]["low"] <= fitting.compute_optimal(REPLICATION, [1e21]).a.value <= plan["a"]["high"]
    iso = plan["isoflop"]
    assert iso["made"] and len(iso["profiles"]) == 9 and iso["left_out"] == 0
    assert frame["isoflop_n_opt_low"].iloc[0] <= frame["n_opt"].iloc[0] <= frame["isoflop_n_opt_high"].iloc[0]
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    argv = [*target, "plan", fit.id, "--budget", "1e21", "--budget", "5.76e23", "--out", str(tmp_path / "p.svg")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "budget C" in out and "N* [low, high]" in out and "5.76e23" in out and "1e21" in out
    assert "IsoFLOP profiles (Approach 2): 9" in out and "OoM" in out and "figure:" in out
    assert (tmp_path / "p.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_a_fit_without_resamples_plans_without_intervals(client: ScalingLawClient, runs: dict[str, np.ndarray]) -> None:
    curve = upload(client, runs)
    (fit,) = client.fit([curve.id], law="chinchilla")
    frame = client.plan(fit.id, [1e22])
    assert frame["n_opt"].iloc[0] > 0 and math.isnan(frame["n_opt_low"].iloc[0])
    assert "no resamples" in frame.attrs["plan"]["message"]


def test_bad_plans_are_refused_naming_the_field(client: ScalingLawClient, runs: dict[str, np.ndarray]) -> None:
    curve = upload(client, runs)
    (fit,) = client.fit([curve.id], law="chinchilla")
    for budgets, where in (([1e21, -1.0], "budgets[1]"), ([0.0], "budgets[0]"), ([1e21, math.nan], "budgets[1]"),
                           ([], "budgets")):  # fmt: skip
        with pytest.raises(InvalidArgument) as err:
            client.plan(fit.id, budgets)
        assert any(v.startswith(where) for v in err.value.field_violations), (budgets, err.value.field_violations)
    with pytest.raises(InvalidArgument, match="flops_per_token"):
        client.plan(fit.id, [1e21], flops_per_token=-6.0)
    with pytest.raises(InvalidArgument, match="figure"):
        client.plan(fit.id, [1e21], figure="plan.html")
    with pytest.raises(NotFound, match="no fit 'f-nope'"):
        client.plan("f-nope", [1e21])
    steps = np.geomspace(10, 1e5, 200)
    (other,) = client.fit([client.upload_curve(steps, 1.5 + (2e5 / steps) ** 0.35).id])
    with pytest.raises(InvalidArgument) as err:
        client.plan(other.id, [1e21])
    assert err.value.field_violations[0].startswith("fit_id") and "step_power has inputs x" in err.value.message


def test_too_many_budgets_are_a_limit(tmp_path: Path, runs: dict[str, np.ndarray]) -> None:
    running = start(tmp_path, max_horizons=5)
    try:
        with ScalingLawClient(running.target, timeout=60) as client:
            curve = upload(client, runs)
            (fit,) = client.fit([curve.id], law="chinchilla")
            with pytest.raises(ResourceExhausted, match="max_horizons"):
                client.plan(fit.id, np.geomspace(1e20, 1e24, 6))
            assert len(client.plan(fit.id, np.geomspace(1e20, 1e24, 5))) == 5
    finally:
        running.stop()
    costly = start(tmp_path / "costly", max_point_resamples=40_000)  # budgets x resamples: the cost of a plan
    try:
        with ScalingLawClient(costly.target, timeout=60) as client:
            (fit,) = client.fit([upload(client, runs).id], law="chinchilla", bootstrap=199)
            with pytest.raises(ResourceExhausted, match="max_point_resamples is 40000: ask for at most 200 budgets"):
                client.plan(fit.id, np.geomspace(1e20, 1e24, 201))
            assert len(client.plan(fit.id, np.geomspace(1e20, 1e24, 200))) == 200
    finally:
        costly.stop()


def test_random_plan_requests_get_a_plan_or_a_clear_refusal(
    client: ScalingLawClient, runs: dict[str, np.ndarray]
) -> None:
    """Budgets, FLOPs per token and IsoFLOP widths from anywhere on the float line (NaN, inf,
    negative, subnormal, huge), straight to the RPC: a plan whose numbers are finite or NaN, never
    infinite, or INVALID_ARGUMENT / RESOURCE_EXHAUSTED with a message; never INTERNAL."""
    (fit,) = client.fit([upload(client, runs).id], law="chinchilla", bootstrap=39)
    stub = pb_grpc.ScalingLawServiceStub(client._channel)
    anything = st.floats(allow_nan=True, allow_infinity=True)
    positive = st.floats(min_value=1e-300, max_value=1e300)
    outcomes: list[str] = []

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        budgets=st.lists(st.one_of(positive, anything), max_size=6),
        k=st.one_of(st.sampled_from([0.0, 6.0]), positive, anything),
        width=st.one_of(st.sampled_from([0.0, 0.05]), anything),
    )
    def plan(budgets: list[float], k: float, width: float) -> None:
        request = pb.PlanComputeRequest(fit_id=fit.id, budgets=budgets, flops_per_token=k, isoflop_width=width)
        try:
            reply = stub.PlanCompute(request, timeout=60)
        except grpc.RpcError as err:
            assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), err.details()
            assert (err.details() or "").strip()
            outcomes.append("refused")
            return
        values = [v for r in reply.rows for e in (r.n_opt, r.d_opt, r.loss) for v in (e.value, e.low, e.high)]
        assert len(reply.rows) == len(budgets) and not any(math.isinf(v) for v in values)
        outcomes.append("planned")

    plan()
    assert {"planned", "refused"} <= set(outcomes)  # both kinds were tried
