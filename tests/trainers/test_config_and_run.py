"""Bad configuration fails before any work; run() wires everything; the CLI writes its JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fitting import InvalidInputError
from trainers import PerceptronConfig, RunSpec, SearchConfig, TransformerConfig, run
from trainers.__main__ import main
from trainers.presets import preset_spec

LM = TransformerConfig
TINY = RunSpec(
    steps=40,
    perceptron=PerceptronConfig(dim=8, train_size=64, desired_size=64, test_size=64),
    search=SearchConfig(outer_iters=2, holdout=0.25),
    bootstrap=20,
    device="cpu",
)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (replace(TINY, steps=1), "steps"),
        (replace(TINY, eta=0.0), "eta"),
        (replace(TINY, eta=-1.0), "eta"),
        (replace(TINY, task="resnet"), "task"),  # type: ignore[arg-type]
        (replace(TINY, device="tpu"), "device"),  # type: ignore[arg-type]
        (replace(TINY, perceptron=PerceptronConfig(train_size=0)), "perceptron.train_size"),
        (replace(TINY, perceptron=PerceptronConfig(dim=-3)), "perceptron.dim"),
        (replace(TINY, perceptron=PerceptronConfig(label_noise=1.5)), "perceptron.label_noise"),
        (replace(TINY, perceptron=PerceptronConfig(teacher_shift_cos=1.0)), "perceptron.teacher_shift_cos"),
        (replace(TINY, perceptron=PerceptronConfig(teacher_shift_cos=float("nan"))), "perceptron.teacher_shift_cos"),
        (replace(TINY, search=SearchConfig(extend_steps=-1)), "search.extend_steps"),
        (replace(TINY, search=SearchConfig(outer_iters=-1)), "search.outer_iters"),
        (replace(TINY, search=SearchConfig(outer_lr=0.0)), "search.outer_lr"),
        (replace(TINY, search=SearchConfig(optimizer="adam")), "search.optimizer"),  # type: ignore[arg-type]
        (replace(TINY, search=SearchConfig(holdout=1.0)), "search.holdout"),
        (replace(TINY, fit_start_share=0.0), "fit_start_share"),
        (replace(TINY, fit_start_share=1.0), "fit_start_share"),
        (replace(TINY, fit_start_share=float("nan")), "fit_start_share"),
        (replace(TINY, task="transformer_lm", transformer=LM(d_model=10, n_heads=3)), "transformer.n_heads"),
        (replace(TINY, task="transformer_lm", transformer=LM(train_size=0)), "transformer.train_size"),
        (replace(TINY, task="transformer_lm", transformer=LM(corpus="/no/such/file.txt")), "transformer.corpus"),
    ],
)
def test_bad_configuration_is_rejected_naming_the_field(spec: RunSpec, field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        run(spec)
    assert err.value.field == field


def test_the_fits_start_at_a_share_of_t_unless_a_step_is_given() -> None:
    assert (RunSpec(steps=300).fit_from, RunSpec(steps=5).fit_from) == (30, 1)
    assert RunSpec(steps=100, fit_start_share=0.29).fit_from == 29  # 0.29 x 100 is 28.999... in floats
    assert RunSpec(steps=300, fit_x_min=45, fit_start_share=0.5).fit_from == 45
    paper = preset_spec("paper")
    assert (paper.fit_from, replace(paper, steps=300).fit_from) == (100, 15)  # T / 20 at any T


def test_empty_corpus_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    spec = replace(TINY, task="transformer_lm", transformer=TransformerConfig(corpus=str(empty)))
    with pytest.raises(InvalidInputError, match="empty") as err:
        run(spec)
    assert err.value.field == "transformer.corpus"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where CUDA is absent")
def test_cuda_asked_but_absent() -> None:
    with pytest.raises(InvalidInputError, match="CUDA") as err:
        run(replace(TINY, device="cuda"))
    assert err.value.field == "device"


def test_run_end_to_end_writes_artifacts(tmp_path: Path) -> None:
    events = []
    result = run(replace(TINY, out_dir=str(tmp_path)), progress=events.append)
    summary = result.outcome.summary()
    for key in (
        "ar_empirical",
        "ar_fit",
        "cr_conventional",
        "cr_optimal",
        "sim_conventional",
        "sim_optimal",
        "fit_conventional",
        "fit_optimal",
        "auc_conventional",
        "auc_optimal",
        "outer_iters",
        "seconds",
        "device",
    ):
        assert key in summary, key
    assert set(summary["fit_optimal"]) == {"L0", "B", "beta"}
    assert summary["device"] == "cpu" and summary["outer_iters"] == 2
    assert events[0].phase == "conventional" and events[-1].fraction == 1.0
    assert sum(e.iteration is not None for e in events) == 3
    for name in ("config.json", "summary.json", "curves.csv", "history.csv", "policy.pt"):
        assert (tmp_path / name).is_file(), name
    saved = torch.load(tmp_path / "policy.pt")
    assert saved["gamma"].shape == (40, 64)
    assert RunSpec.from_dict(json.loads((tmp_path / "config.json").read_text())) == replace(TINY, out_dir=str(tmp_path))
    # the conventional curve is plain GD: CR and AUC agree with fitting's own formulas
    test = result.conventional.curves.test[1:]
    assert summary["auc_conventional"] == pytest.approx(test.sum())
    assert summary["cr_conventional"] == pytest.approx(40 / test.sum())


@pytest.mark.slow  # 16 s on 2 cores
def test_transformer_run_on_generated_stories(tmp_path: Path) -> None:
    lm = TransformerConfig(
        n_layers=1, d_model=16, n_heads=2, context=8, vocab_size=80, train_size=32, desired_size=16, test_size=16
    )
    spec = replace(TINY, task="transformer_lm", steps=12, eta=0.5, transformer=lm, search=SearchConfig(outer_iters=1))
    summary = run(spec).outcome.summary()
    assert summary["task"] == "transformer_lm" and summary["cr_optimal"] > 0


def test_cli_prints_a_table_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "summary.json"
    argv = ["perceptron", "--steps", "30", "--train-size", "64", "--desired-size", "32", "--test-size", "32"]
    argv += ["--dim", "8", "--outer-iters", "1", "--bootstrap", "10", "--device", "cpu", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "CR (paper units)" in printed and "AR at T" in printed
    data = json.loads(out.read_text())
    assert data["outer_iters"] == 1 and data["device"] == "cpu"


def test_cli_rejects_bad_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perceptron", "--steps", "1"]) == 2
    assert "steps" in capsys.readouterr().err


def test_an_inner_run_past_its_stability_limit_is_flagged() -> None:
    from trainers.runner import instability_warning

    assert instability_warning(np.geomspace(5.0, 1.0, 100), 0.1) == ""
    spiky = np.geomspace(5.0, 1.0, 100)
    spiky[60] = spiky[59] * 1.2
    assert "rises by 20.0% at step 60: eta 0.5" in instability_warning(spiky, 0.5)
    # a real run: an LM at eta 3 rises; the warning reaches the summary
    small = LM(train_size=16, desired_size=8, test_size=8, d_model=8, n_layers=1, n_heads=2, context=8)
    lm = replace(TINY, task="transformer_lm", steps=30, eta=3.0, search=SearchConfig(), transformer=small)
    assert "stability limit" in " ".join(run(lm).outcome.summary()["warnings"])
