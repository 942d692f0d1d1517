"""FitOptions: one options object for every fit entry point, the same fits as the keywords give,
and its checks naming the option."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from fitting import (
    FitOptions,
    FitStatus,
    InvalidInputError,
    ParamSpec,
    compare_curves,
    fit_batch,
    fit_curve,
    fit_joint,
)

from .conftest import noisy

X = np.geomspace(10.0, 1e4, 60)
BASE = noisy("step_power", X, {"L0": 0.5, "B": 1e5, "beta": 0.3}, np.random.default_rng(0), 0.01)
FAST = noisy("step_power", X, {"L0": 0.5, "B": 2e4, "beta": 0.35}, np.random.default_rng(1), 0.01)


def same_fit(a: Any, b: Any) -> None:
    assert a.status == b.status and a.params == b.params and a.ci == b.ci and a.shared == b.shared


def test_options_give_the_fits_the_keywords_give() -> None:
    keywords: dict[str, Any] = {"x_min": 20.0, "fixed": {"L0": 0.5}, "bootstrap": 8, "seed": 3}
    options = FitOptions(x_min=20.0, bootstrap=8, seed=3, params={"L0": ParamSpec(fixed=0.5)})
    assert FitOptions.from_keywords(**keywords) == options
    same_fit(fit_curve(X, BASE, options=options), fit_curve(X, BASE, **keywords))
    curves = [(X, BASE), (X, FAST)]
    for a, b in zip(fit_batch(curves, options=options), fit_batch(curves, **keywords), strict=True):
        same_fit(a, b)
    shared = FitOptions(bootstrap=8, params={"L0": ParamSpec(shared=True)})
    joint = fit_joint(curves, options=shared)
    for a, b in zip(joint, fit_joint(curves, shared=("L0",), bootstrap=8), strict=True):
        same_fit(a, b)
    assert joint[0].shared == ("L0",) and joint[0].params["L0"] == joint[1].params["L0"]
    by_options = compare_curves((X, BASE), [(X, FAST)], options=shared, horizons=[1e4])
    by_keywords = compare_curves((X, BASE), [(X, FAST)], bootstrap=8, horizons=[1e4])
    assert by_options.candidates[0].accelerations == by_keywords.candidates[0].accelerations


def test_a_parameter_can_be_fixed_and_shared_at_once() -> None:
    options = FitOptions(params={"L0": ParamSpec(fixed=0.5, shared=True), "beta": ParamSpec(shared=True)})
    base, fast = fit_joint([(X, BASE), (X, FAST)], options=options)
    assert base.fixed == ("L0",) and base.shared == ("L0", "beta")
    assert base.params["L0"] == fast.params["L0"] == 0.5 and base.params["beta"] == fast.params["beta"]
    assert base.params["B"] != fast.params["B"]


def test_the_views_and_sharing() -> None:
    options = FitOptions.from_keywords(
        "A * x**-alpha", fixed={"A": 2.0}, bounds={"alpha": (0.0, 3.0)}, starts={"alpha": 0.5}, shared=["alpha"]
    )
    assert options.fixed == {"A": 2.0} and options.bounds == {"alpha": (0.0, 3.0)}
    assert options.starts == {"alpha": 0.5} and options.shared == ("alpha",)
    assert options.resolve_law().param("alpha").upper == 3.0
    moved = options.sharing(["A"])
    assert moved.shared == ("A",) and moved.fixed == options.fixed and options.shared == ("alpha",)
    assert FitOptions().sharing(["L0"]).params == {"L0": ParamSpec(shared=True)}
    stored = json.loads(json.dumps(options.to_dict()))
    assert stored["law"] == "A * x**-alpha" and stored["bounds"] == {"alpha": [0.0, 3.0]}
    assert stored["shared"] == ["alpha"] and stored["x_min"] is None


def test_the_options_own_their_parameters() -> None:
    params = {"L0": ParamSpec(fixed=0.5)}
    options = FitOptions(params=params)
    params["beta"] = ParamSpec(fixed=0.3)  # a later change of the caller's dict changes nothing
    assert options.fixed == {"L0": 0.5}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"loss_fn": "l3"}, "loss_fn"),
        ({"delta": math.nan}, "delta"),
        ({"delta": 1e4}, "delta"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"seed": -1}, "seed"),
        ({"method": "magic"}, "method"),
        ({"x_min": math.inf}, "x_min"),
        ({"x_max": math.nan}, "x_max"),
        ({"x_min": 5.0, "x_max": 5.0}, "x_min"),
        ({"resample_bins": 3}, "resample_bins"),
        ({"resample_bins": -1}, "resample_bins"),
    ],
)
def test_construction_checks_name_the_option(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        FitOptions(**fields)
    assert err.value.field == field and err.value.message
    with pytest.raises(InvalidInputError) as err:  # the keywords reach the same check
        fit_curve(X, BASE, **fields)
    assert err.value.field == field


def test_the_law_is_checked_against_the_options_when_fitting() -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_curve(X, BASE, options=FitOptions(params={"B": ParamSpec(bounds=(1.0, 2.0))}))
    assert err.value.field == "bounds"  # bounds apply to expressions only
    with pytest.raises(InvalidInputError) as err:
        fit_joint([(X, BASE)], options=FitOptions("power", params={"L0": ParamSpec(shared=True)}))
    assert err.value.field == "shared"
    with pytest.raises(InvalidInputError) as err:
        fit_curve(X, BASE, options=FitOptions(method="paper", params={"beta": ParamSpec(fixed=0.3)}))
    assert err.value.field == "fixed"


def test_options_and_keywords_at_once_are_refused() -> None:
    with pytest.raises(TypeError, match="seed"):
        fit_curve(X, BASE, options=FitOptions(), seed=1)
    with pytest.raises(TypeError, match="law"):
        fit_batch([(X, BASE)], "power", options=FitOptions())
    with pytest.raises(TypeError, match="shared"):
        fit_curve(X, BASE, shared=("L0",))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        fit_curve(X, BASE, colour="red")  # type: ignore[call-arg]


def test_a_constant_curve_is_left_out_of_a_joint_paper_fit() -> None:
    x = np.arange(1.0, 201.0)
    a = 0.3 + (3e4 / x) ** 0.3
    b = 0.3 + (1e4 / x) ** 0.35
    base, flat, fast = fit_joint([(x, a), (x, np.full(x.size, 2.0)), (x, b)], method="paper")
    assert flat.status is FitStatus.UNIDENTIFIABLE and "constant curve" in flat.message
    assert flat.method == "paper" and flat.loss_fn == "linear"
    assert base.status is FitStatus.CONVERGED and fast.status is FitStatus.CONVERGED
    assert base.params["L0"] == fast.params["L0"] == pytest.approx(0.3, rel=0.02)
