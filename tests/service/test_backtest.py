"""Backtests through the server: the client's rows and DataFrame, the CLI's leaderboard and JSON,
cross-schedule pairs, and bad input refused naming its field, all against a real in-process server."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from service.cli import main
from service.client import InvalidArgument, NotFound, ResourceExhausted, ScalingLawClient, backtest_frame

from .conftest import RunningServer, start

SCHEDULES = Path(__file__).parents[1] / "data" / "schedules"


def upload(client: ScalingLawClient, name: str) -> str:
    table = pd.read_csv(SCHEDULES / f"multipowerlaw_400m_{name}.csv")
    return client.upload_curve(table["step"], table["loss"], lr=table["lr"], name=name).id


def test_the_client_ranks_laws_per_setting_and_gives_a_frame(client: ScalingLawClient) -> None:
    constant = upload(client, "constant_72000")
    rows = client.backtest([constant], laws=["power", "step_power"], bootstrap=20)
    assert [(r.train_fraction, r.rank) for r in rows] == [(0.5, 1), (0.5, 2), (0.8, 1), (0.8, 2)]  # default fractions
    best = rows[0]
    assert (best.law, best.fit_on, best.predict_on, best.status) == ("step_power", constant, constant, "converged")
    assert best.worst_error < 0.005 and best.n_train + best.n_held_out == 546 and best.n_bootstrap == 20
    assert 0 <= best.coverage <= 1
    frame = backtest_frame(rows)
    assert list(frame["law"]) == ["step_power", "power", "step_power", "power"]
    assert frame["mean_error"].iloc[0] == pytest.approx(best.mean_error)


def test_the_cli_prints_the_leaderboard_and_pairs(
    server: RunningServer, client: ScalingLawClient, capsys: pytest.CaptureFixture[str]
) -> None:
    constant, wsd = upload(client, "constant_24000"), upload(client, "wsd_20000_24000")
    target = ["--target", server.target]
    argv = [*target, "backtest", wsd, "--law", "step_power", "--law", "power", "--train-fraction", "0.8"]
    assert main([*argv, "--fit-on", constant, "--predict-on", wsd, "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    assert "Backtest" in out and "wsd_20000_24000 @ 0.8" in out and "constant_24000 -> wsd_20000_24000" in out
    assert "in band" in out and "mean err" in out
    assert main([*argv, "--bootstrap", "0", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["law"] for r in rows} == {"step_power", "power"} and all(
        r["coverage"] is None or math.isnan(r["coverage"]) for r in rows
    )
    step = next(r for r in rows if r["law"] == "step_power")
    assert step["final_error"] > 0.025  # fitted before the decay, it predicts too high a loss at the end
    assert main([*target, "backtest", "--fit-on", constant]) == 2  # no --predict-on: refused here


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"train_fractions": [0.5, 1.5]}, "train_fractions[1]"),
        ({"laws": ["step_power", "x +* 2"]}, "laws[1]"),
        ({"pairs": [("CURVE", "CURVE")]}, "pairs[0]"),
        ({"bootstrap": -1}, "bootstrap"),
    ],
)
def test_bad_input_is_refused_naming_its_field(client: ScalingLawClient, kwargs: dict[str, object], field: str) -> None:
    curve = upload(client, "wsdcon_3")
    if "pairs" in kwargs:
        kwargs = {"pairs": [(curve, curve)]}
    with pytest.raises(InvalidArgument) as err:
        client.backtest([curve], **kwargs)  # type: ignore[arg-type]
    assert any(v.startswith(f"{field}:") for v in err.value.field_violations), err.value.field_violations


def test_unknown_curves_and_costly_backtests_are_refused(tmp_path: Path) -> None:
    server = start(tmp_path, max_point_resamples=20_000)
    try:
        with ScalingLawClient(server.target, timeout=60) as client:
            with pytest.raises(NotFound):
                client.backtest(["no-such-curve"])
            curve = upload(client, "constant_72000")
            with pytest.raises(ResourceExhausted, match="laws x") as err:
                client.backtest([curve], laws=["step_power", "power"], bootstrap=50)
            assert any(v.startswith("options.bootstrap:") for v in err.value.field_violations)
    finally:
        server.stop()
