"""Bringing logs in through the CLI and the client, against a real in-process server: table
formats (long and wide, csv/tsv/jsonl), step 0, --dropna, errors that name the file and the row,
a failed source's stored curves deleted again, duplicates, round-trips and DataFrames."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitting import get_law
from service.cli import main
from service.client import DuplicateCurveWarning, InvalidArgument, ScalingLawClient, curves_frame, fits_frame

from .conftest import RunningServer

CONV = {"L0": 0.05, "B": 3.16e8, "beta": 0.12}
OPT = {"L0": 0.05, "B": 1.99e7, "beta": 0.14}


def losses(params: dict[str, float], steps: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = get_law("step_power").evaluate(np.maximum(steps, 1.0), params)
    return clean * np.exp(0.002 * rng.standard_normal(steps.size))


def upload(server: RunningServer, *args: str) -> int:
    return main(["--target", server.target, "upload", *args])


def test_a_log_from_step_zero_uploads_and_fits_saying_what_was_left_out(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(0.0, 1500.0)
    pd.DataFrame({"step": steps, "loss": losses(CONV, steps)}).to_csv(tmp_path / "run.csv", index=False)
    assert upload(server, str(tmp_path / "run.csv"), "--json") == 0
    (curve,) = json.loads(capsys.readouterr().out)
    assert curve["n_points"] == 1500 and curve["x_first"] == 0.0 and curve["name"] == "run"
    assert main(["--target", server.target, "fit", curve["id"], "--json"]) == 0
    (fit,) = json.loads(capsys.readouterr().out)
    assert fit["n_left_out"] == 1 and "1 point at x <= 0 left out" in fit["message"]
    assert fit["params"]["beta"] == pytest.approx(0.12, rel=0.05)


def test_a_bad_row_is_named_by_file_and_row_and_dropna_leaves_it_out_saying_how_many(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(1.0, 201.0)
    frame = pd.DataFrame({"step": steps, "loss": losses(CONV, steps)})
    frame.loc[6, "loss"] = np.nan  # the 7th data row
    frame.loc[20, "loss"] = np.inf
    frame.to_csv(tmp_path / "baseline.csv", index=False)
    assert upload(server, str(tmp_path / "baseline.csv")) == 2
    err = capsys.readouterr().err
    assert "not stored: " in err and "baseline.csv row 7: loss is NaN" in err and "--dropna" in err
    assert upload(server, str(tmp_path / "baseline.csv"), "--dropna", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["n_points"] == 198 and "--dropna left out 2 rows" in err


def test_text_and_steps_that_go_back_name_their_rows(server: RunningServer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "text.csv").write_text("step,loss\n1,2.0\n2,oops\n3,1.0\n")
    (tmp_path / "back.tsv").write_text("step\tloss\n1\t2.0\n2\t1.5\n2\t1.4\n")
    assert upload(server, str(tmp_path / "text.csv"), str(tmp_path / "back.tsv")) == 2
    err = capsys.readouterr().err
    assert "text.csv row 2: loss is 'oops', not a number" in err
    assert "back.tsv row 3: step 2 does not increase (after 2 at row 2)" in err


def test_a_multi_file_upload_says_which_files_were_stored_and_stores_none_of_a_bad_one(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(1.0, 301.0)
    pd.DataFrame({"step": steps, "loss": losses(CONV, steps)}).to_csv(tmp_path / "good.csv", index=False)
    # a wide file whose second run the server refuses (a name over max_name_bytes): its first run,
    # stored already, is deleted again, so the file stores nothing
    wide = pd.DataFrame({"step": steps, "run-a": losses(CONV, steps), "r" * 2000: losses(OPT, steps)})
    wide.to_csv(tmp_path / "wide.csv", index=False)
    args = ["--loss-col", "loss", "--study", "multi"]
    assert upload(server, str(tmp_path / "good.csv"), str(tmp_path / "missing.csv"), *args) == 2
    err = capsys.readouterr().err
    assert "stored: " in err and "good.csv: 1 of 1 curves" in err and "not stored: " in err and "missing.csv" in err
    assert upload(server, str(tmp_path / "wide.csv"), "--loss-col", "run-a", "--loss-col", "r" * 2000,
                  "--study", "multi") == 2  # fmt: skip
    assert "not stored: " in capsys.readouterr().err
    assert [c.name for c in client.list_curves(study="multi")] == ["good"]


def test_wide_tsv_and_jsonl_exports_give_one_curve_per_run_column(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(1.0, 401.0)
    wide = pd.DataFrame({"Step": steps, "conv - loss": losses(CONV, steps), "opt - loss": losses(OPT, steps)})
    wide.loc[300:, "opt - loss"] = np.nan  # a shorter run: blank cells, not bad values
    wide.to_csv(tmp_path / "wandb.tsv", sep="\t", index=False)
    wide.to_json(tmp_path / "wandb.jsonl", orient="records", lines=True)
    cols = ["--loss-col", "conv - loss", "--loss-col", "opt - loss"]
    for path in ("wandb.tsv", "wandb.jsonl"):
        assert upload(server, str(tmp_path / path), *cols, "--study", path, "--json") == 0
        stored = json.loads(capsys.readouterr().out)
        assert [(c["name"], c["n_points"]) for c in stored] == [("conv - loss", 400), ("opt - loss", 300)]
    read = client.read_curve(stored[1]["id"])
    # pandas writes JSON with 10 significant digits
    assert np.array_equal(read["x"], steps[:300]) and np.allclose(read["loss"], wide["opt - loss"][:300], rtol=1e-9)


def test_reuploading_the_same_points_warns_and_skip_existing_skips(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(1.0, 101.0)
    pd.DataFrame({"step": steps, "loss": losses(CONV, steps)}).to_csv(tmp_path / "a.csv", index=False)
    assert upload(server, str(tmp_path / "a.csv"), "--study", "d", "--json") == 0
    (first,) = json.loads(capsys.readouterr().out)
    assert upload(server, str(tmp_path / "a.csv"), "--study", "d") == 0
    out, err = capsys.readouterr()
    assert f"has the same points as {first['id']}" in err and f"duplicate of {first['id']}" in out
    assert upload(server, str(tmp_path / "a.csv"), "--study", "d", "--skip-existing") == 0
    out, err = capsys.readouterr()
    assert "stored: " in err and "0 of 1 curves" in err and f"skipped: same points as {first['id']}" in out
    assert len(client.list_curves(study="d")) == 2
    assert upload(server, str(tmp_path / "a.csv"), "--study", "other", "--skip-existing") == 0  # another study
    assert len(client.list_curves(study="other")) == 1


def test_labels_x_unit_and_tokens_per_step_from_the_cli_and_the_client(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = np.arange(1.0, 51.0)
    pd.DataFrame({"step": steps, "loss": losses(CONV, steps)}).to_csv(tmp_path / "t.csv", index=False)
    assert upload(server, str(tmp_path / "t.csv"), "--label", "lr=3e-4", "--label", "seed=1", "--x-unit", "tokens",
                  "--tokens-per-step", "2048", "--json") == 0  # fmt: skip
    (stored,) = json.loads(capsys.readouterr().out)
    assert stored["labels"] == {"lr": "3e-4", "seed": "1"} and stored["x_unit"] == "tokens"
    assert stored["tokens_per_step"] == 2048.0
    info = client.upload_curve(steps, losses(OPT, steps), labels={"run": "b"}, x_unit="flops", tokens_per_step=8.0)
    assert (info.labels, info.x_unit, info.tokens_per_step) == ({"run": "b"}, "flops", 8.0)
    assert (info.split, info.name) == ("test", "loss")  # the CLI's defaults
    assert upload(server, str(tmp_path / "t.csv"), "--label", "nokey") == 2


def test_what_read_curve_returns_upload_curve_takes_back_with_its_metadata(client: ScalingLawClient) -> None:
    steps = np.arange(0.0, 120.0)
    original = client.upload_curve(steps, losses(CONV, steps), name="orig", policy="conventional", study="rt",
                                   vocab_size=5000, labels={"k": "v"}, tokens_per_step=4.0)  # fmt: skip
    frame = client.read_curve(original.id)
    copy = client.upload_curve(frame, study="rt-copy")
    assert copy.sha256 == original.sha256 and copy.id != original.id
    kept = ("name", "policy", "split", "vocab_size", "x_unit", "tokens_per_step", "labels")
    assert {k: getattr(copy, k) for k in kept} == {k: getattr(original, k) for k in kept} and copy.study == "rt-copy"
    with_inputs = client.upload_curve(steps + 1, losses(CONV, steps), columns={"D": 2048 * (steps + 1)})
    back = client.read_curve(with_inputs.id)
    assert list(back.columns) == ["x", "loss", "D"]
    assert client.read_curve(client.upload_curve(back, study="rt-copy").id).equals(back)  # the input column too
    again = client.upload_curve(frame, skip_duplicate=True)  # into the original's study: skipped
    assert again.skipped and again.id == original.id
    with pytest.warns(DuplicateCurveWarning, match=f"has the same points as {original.id}"):
        twice = client.upload_curve(frame)  # stored again, with a warning
    assert twice.duplicate_of == original.id and not twice.skipped


def test_curves_fits_and_comparisons_as_dataframes(client: ScalingLawClient) -> None:
    steps = np.arange(1.0, 1001.0)
    conv = client.upload_curve(steps, losses(CONV, steps, 1), name="conv", study="frames", labels={"lr": "1"})
    opt = client.upload_curve(steps, losses(OPT, steps, 2), name="opt", study="frames")
    curves = curves_frame(client.list_curves(study="frames"))
    assert list(curves["name"]) == ["conv", "opt"] and curves["label.lr"].tolist()[0] == "1"
    fits = fits_frame(client.fit([conv.id], bootstrap=40))
    beta = fits.set_index("param").loc["beta"]
    assert beta["ci_low"] < beta["value"] < beta["ci_high"] and beta["stderr"] > 0
    comparison = client.compare(conv.id, [opt.id], horizons=[1000.0, 1e4], bootstrap=40).to_frame()
    assert list(comparison["horizon"]) == [1000.0, 1e4] and (comparison["ar_fit"] > 1).all()
    assert {"ar_fit_low", "ar_fit_high", "ar_measured", "cr"} <= set(comparison.columns)


def test_the_client_names_the_row_the_server_refused(client: ScalingLawClient) -> None:
    from service.client.importers.curves import LogCurve
    from service.client.log_upload import upload_log_curves

    x = np.arange(1.0, 6.0)
    loss = np.array([1.0, 0.9, np.nan, 0.7, 0.6])  # past the reader's checks, as a caller's own LogCurve may be
    curve = LogCurve("run/loss", x, loss, "logs/run", np.arange(10, 15))
    with pytest.raises(InvalidArgument) as err:
        upload_log_curves(client, [curve])
    assert err.value.message.startswith("logs/run row 12: run/loss: loss: must be finite")


def test_a_missing_reader_package_is_one_line_saying_what_to_install(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # as if not installed: importing the package or any of its modules raises ImportError (the
    # modules an earlier test imported too, which Python would otherwise hand out from its cache)
    for package in ("tensorboard", "mlflow"):
        for name in [package, *(m for m in sys.modules if m.startswith(package + "."))]:
            monkeypatch.setitem(sys.modules, name, None)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "events.out.tfevents.1.host").write_bytes(b"")
    assert upload(server, str(tmp_path / "runs"), "--tag", "loss") == 2
    assert "needs the tensorboard package: pip install 'scalinglaw[tensorboard]'" in capsys.readouterr().err
    with pytest.raises(InvalidArgument, match=r"needs the mlflow package: pip install 'scalinglaw\[mlflow\]'"):
        client.import_mlflow("http://127.0.0.1:1", ["loss"], experiment="x")


def test_a_table_of_final_losses_is_a_point_set_of_its_input_columns(tmp_path: Path) -> None:
    from service.client.importers import LogReadError
    from service.client.importers.table_files import table_curves

    frame = pd.DataFrame({"Model Size": [1e8, 4e8, 1e9], "D": [2e9, 8e9, 2e10], "loss": [3.1, 2.8, 2.6]})
    (curve,) = table_curves(frame, "runs.csv", input_cols=["N=Model Size", "D"], name="runs")
    assert curve.x.tolist() == [1.0, 2.0, 3.0]  # no step column: the row number
    assert curve.columns["N"].tolist() == [1e8, 4e8, 1e9] and curve.columns["D"].tolist() == [2e9, 8e9, 2e10]
    with pytest.raises(LogReadError, match=r"no column 'N' \(--input-col\)"):
        table_curves(frame, "runs.csv", input_cols=["N"])
    frame.loc[1, "D"] = np.nan
    with pytest.raises(LogReadError, match=r"runs\.csv row 2: D is NaN"):
        table_curves(frame, "runs.csv", input_cols=["N=Model Size", "D"])
    (kept,) = table_curves(frame, "runs.csv", input_cols=["N=Model Size", "D"], dropna=True)
    assert kept.dropped == 1 and kept.columns["N"].tolist() == [1e8, 1e9]
