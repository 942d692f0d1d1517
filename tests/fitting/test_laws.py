"""One battery over every registered law: evaluation, guesses, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import LAWS, FitStatus, UnknownLawError, expression_law, fit_curve, get_law

from .conftest import RECOVERY_CASES, inputs_for, noisy


def test_every_registered_law_has_a_recovery_case() -> None:
    assert set(RECOVERY_CASES) == set(LAWS)


@pytest.mark.parametrize("name", sorted(LAWS))
def test_law_declares_consistent_parameters(name: str) -> None:
    law = LAWS[name]
    truth, _ = RECOVERY_CASES[name]
    assert law.param_names == tuple(truth)
    for p in law.params:
        assert p.lower < p.upper
        assert p.lower <= truth[p.name] <= p.upper


@pytest.mark.parametrize("name", sorted(LAWS))
def test_evaluation_is_finite_at_extreme_inputs(name: str) -> None:
    law = LAWS[name]
    truth, _ = RECOVERY_CASES[name]
    big = {"B": 1e40} if "B" in truth and name == "step_power" else {}
    x = {k: np.array([1e-3, 1.0, 1e12]) for k in law.inputs} if len(law.inputs) > 1 else np.array([1e-3, 1.0, 1e12])
    if law.derive is not None:  # a schedule that rises, then falls to 0, over a very long curve
        x = {"x": np.array([1e-3, 1.0, 1e3, 1e12]), "lr": np.array([1e-3, 1.0, 1e-6, 0.0])}
    values = law.evaluate(x, {**truth, **big})
    assert np.all(np.isfinite(np.log(values)))


@pytest.mark.parametrize("name", sorted(LAWS))
def test_recovers_known_parameters_from_noisy_curve(name: str) -> None:
    rng = np.random.default_rng(7)
    truth, tolerance = RECOVERY_CASES[name]
    x = inputs_for(name, rng)
    loss = noisy(name, x, truth, rng, sigma=0.005)
    fit = fit_curve(x, loss, name)
    assert fit.status is FitStatus.CONVERGED, fit.message
    for key, value in truth.items():
        if tolerance[key] is not None:
            assert fit.params[key] == pytest.approx(value, rel=tolerance[key]), key
    assert fit.r2 > 0.99
    assert fit.rmse < 0.01


@pytest.mark.parametrize("name", sorted(LAWS))
def test_guess_gives_finite_starts_inside_bounds(name: str) -> None:
    rng = np.random.default_rng(1)
    truth, _ = RECOVERY_CASES[name]
    law = LAWS[name]
    x = inputs_for(name, rng, n=50)
    loss = noisy(name, x, truth, rng, sigma=0.01)
    inputs = {k: np.asarray(v) for k, v in (x.items() if isinstance(x, dict) else [(law.inputs[0], x)])}
    keep = np.ones(loss.size, dtype=bool)
    if law.derive is not None:  # the guess sees the derived schedule summaries, after step 0
        keep = inputs["x"] > 0
        inputs = {k: v[keep] for k, v in law.derive(inputs, keep).items()}
    inputs = {k: v[None] for k, v in inputs.items()}
    starts = law.guess(inputs, loss[None, keep], np.ones((1, int(keep.sum()))))
    assert starts.ndim == 3 and starts.shape[1:] == (1, len(law.params))
    assert np.all(np.isfinite(starts))


def test_unknown_law_lists_the_known_ones() -> None:
    with pytest.raises(UnknownLawError) as err:
        get_law("chinchila")
    assert err.value.field == "law"
    for name in LAWS:
        assert name in str(err.value)


def test_invalid_expression_is_a_clear_error() -> None:
    with pytest.raises(UnknownLawError, match="law"):
        get_law("E + A *")
    with pytest.raises(UnknownLawError, match="does not use its input x"):
        get_law("E + A * y")


def test_expression_cannot_reach_python_builtins() -> None:
    with pytest.raises(UnknownLawError):
        fit_curve([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.5], "__import__('os').getcwd() + x")
    with pytest.raises(UnknownLawError):
        get_law("a * x + open(x)")


def test_expression_law_fits_like_a_registered_law() -> None:
    rng = np.random.default_rng(3)
    x = np.geomspace(10, 1e5, 300)
    loss = noisy("step_power", x, {"L0": 0.8, "B": 1e4, "beta": 0.5}, rng, 0.005)
    # E + A x^-alpha is step_power with A = B^beta
    fit = fit_curve(
        x, loss, "E + A * x**-alpha", bounds={"E": (0, 10), "A": (0, 1e4), "alpha": (0.01, 3)}, starts={"alpha": 0.3}
    )
    assert fit.status is FitStatus.CONVERGED, fit.message
    assert fit.law == "E + A * x**-alpha"
    assert fit.params["E"] == pytest.approx(0.8, rel=0.03)
    assert fit.params["alpha"] == pytest.approx(0.5, rel=0.03)
    assert fit.params["A"] == pytest.approx(1e4**0.5, rel=0.1)


def test_expression_law_object_reports_its_parameters() -> None:
    law = expression_law("E + A * exp(-x / tau)", bounds={"tau": (1, 1e4)})
    assert law.param_names == ("E", "A", "tau")
    assert law.param("tau").lower == 1
    assert law.evaluate(np.array([0.0]), {"E": 1.0, "A": 2.0, "tau": 5.0})[0] == pytest.approx(3.0)
