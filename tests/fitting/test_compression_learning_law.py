"""AUC, compression ratio and the Learning-Law statistics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitting import InvalidInputError, auc, compression_ratio, sim_statistics, well_learned_share


def test_cr_equals_hand_computed_value() -> None:
    loss = [0.5, 0.25, 0.25]  # sum 1.0 nats over T = 3 steps
    assert auc(loss) == 1.0
    assert compression_ratio(loss, vocab_size=2) == pytest.approx(3.0)  # 3 * log2(2) / 1
    assert compression_ratio(loss, vocab_size=8) == pytest.approx(9.0)  # 3 * 3 / 1
    assert compression_ratio(loss, vocab_size=2, units="bits") == pytest.approx(3.0 * math.log(2))


def test_token_form_weights_each_step_by_its_tokens() -> None:
    loss = [1.0, 0.5]
    tokens = [100, 300]
    # M log2 V / sum B_t L_t = 400 * 1 / (100 + 150)
    assert compression_ratio(loss, 2, per_step_tokens=tokens) == pytest.approx(400 / 250)
    assert compression_ratio(loss, 2, per_step_tokens=64) == pytest.approx(compression_ratio(loss, 2))


def test_sparse_curve_uses_the_integral_over_steps() -> None:
    x = np.array([0.0, 10.0])
    loss = np.array([2.0, 1.0])
    assert auc(loss, x) == pytest.approx(15.0)
    assert compression_ratio(loss, 2, x=x) == pytest.approx(10 / 15)


def test_paper_perceptron_scale() -> None:
    # a conventional perceptron loss of ~0.25 nats on average gives CR ~ 4 (Gu et al. 2024, §2; docs/paper.md)
    assert compression_ratio(np.full(2000, 0.25), 2) == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (([], 2), {}, "loss"),
        (([1.0, -1.0], 2), {}, "loss"),
        (([1.0, math.nan], 2), {}, "loss"),
        (([1.0], 1), {}, "vocab_size"),
        (([1.0], 2), {"units": "hartley"}, "units"),
        (([1.0, 1.0], 2), {"per_step_tokens": [1, 0]}, "per_step_tokens"),
        (([0.0, 0.0], 2), {}, "loss"),
    ],
)
def test_compression_bad_input(args: tuple[object, ...], kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        compression_ratio(*args, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_sim_statistics_hand_built_case() -> None:
    ct = np.array([[1.0, 3.0, -1.0, 2.0], [2.0, 2.0, 0.0, -5.0]])
    gamma = np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.5, 0.0]])
    stats = sim_statistics(ct, gamma)
    # step 0: CTbar = 2, active CT = [1, 3] -> std (ddof 1) = sqrt(2)
    # step 1: CTbar = 1, active CT = [2, 2, 0] -> std = sqrt(4/3)
    np.testing.assert_allclose(stats.ct_bar, [2.0, 1.0])
    np.testing.assert_allclose(stats.sim_t, [2 / math.sqrt(2), 1 / math.sqrt(4 / 3)])
    assert stats.sim == pytest.approx(np.mean(stats.sim_t))
    # CT <= 0 at (0,2), (1,2), (1,3); gamma = 0 at (0,2) and (1,3)
    assert stats.zero_weight_fraction == pytest.approx(2 / 3)
    # CT > 0 at (0,0), (0,1), (0,3), (1,0), (1,1); gamma = 0 at (0,3) only
    assert stats.zero_weight_fraction_positive == pytest.approx(1 / 5)
    # weight on CT <= 0: 0 at step 0, 0.5 at step 1 (the 0.5 on (1,2))
    assert stats.nonpositive_weight == pytest.approx(0.25)
    np.testing.assert_array_equal(stats.n_active, [2, 3])


def test_the_weight_on_nonpositive_ct_tells_a_lawful_sparse_policy_from_a_blind_one() -> None:
    # Both policies keep 5 % of the examples, so both drop about 95 % of the CT <= 0 pairs and of
    # the CT > 0 ones: the shares cannot tell them apart. The blind one keeps examples whatever their
    # contribution and puts half its weight on CT <= 0 (what the uniform policy does); the lawful one
    # keeps the largest contributions, as an optimum's few kept examples are, and puts none there.
    rng = np.random.default_rng(0)
    ct = rng.normal(size=(50, 400))
    blind = np.tile(np.arange(400) % 20 == 0, (50, 1)) / 20.0
    stats = sim_statistics(ct, blind)
    assert stats.zero_weight_fraction == pytest.approx(0.95, abs=0.02)
    assert stats.zero_weight_fraction_positive == pytest.approx(0.95, abs=0.02)
    assert stats.nonpositive_weight == pytest.approx(0.5, abs=0.1)
    lawful = ct >= np.sort(ct, axis=1)[:, -20:-19]  # the 20 largest CT of each step
    stats = sim_statistics(ct, lawful / 20.0)
    assert stats.zero_weight_fraction == 1.0 and stats.zero_weight_fraction_positive > 0.85
    assert stats.nonpositive_weight == 0.0
    uniform = sim_statistics(ct, np.full(ct.shape, 1 / 400))
    assert uniform.nonpositive_weight == pytest.approx(np.mean(ct <= 0))


def test_sim_is_nan_where_fewer_than_two_examples_are_active() -> None:
    stats = sim_statistics([[1.0, 2.0]], [[1.0, 0.0]])
    assert math.isnan(stats.sim_t[0]) and math.isnan(stats.sim)


def test_well_learned_share() -> None:
    train_loss = np.array([[1e-8, 1e-7, 0.3, 0.5]])
    gamma = np.array([[0.0, 0.3, 0.3, 0.4]])  # 0.2 * max = 0.08
    assert well_learned_share(train_loss, gamma) == pytest.approx(0.5)
    assert math.isnan(well_learned_share([[1.0]], [[1.0]]))


def test_learning_law_bad_input() -> None:
    with pytest.raises(InvalidInputError) as err:
        sim_statistics(np.ones((2, 3)), np.ones((3, 2)))
    assert err.value.field == "gamma"
    with pytest.raises(InvalidInputError) as err:
        sim_statistics(np.ones((2, 3)), -np.ones((2, 3)))
    assert err.value.field == "gamma" and err.value.index == 0
    with pytest.raises(InvalidInputError) as err:
        sim_statistics(np.ones(3), np.ones(3))
    assert err.value.field == "ct"
