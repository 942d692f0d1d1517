"""The policy gradient kept where parts of the desired set agree on its sign (trainers.agreement):
one part is the plain gradient, the parts add up to the whole set, the mask keeps exactly the
entries whose row-centred signs agree, and bad part counts are refused naming the field."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from fitting.errors import InvalidInputError
from trainers.adjoint import policy_gradient
from trainers.agreement import agreement_gradient, agreement_mask, desired_parts
from trainers.config import SearchConfig
from trainers.presets import PAPER
from trainers.search import search_policy
from trainers.tasks.base import Split, Task

from .conftest import random_policy, tiny_perceptron


def test_one_part_is_the_plain_policy_gradient(task: Task) -> None:
    gamma = random_policy(task, 6)
    plain = policy_gradient(task, gamma, 0.3)
    ours, kept = agreement_gradient(task, gamma, 0.3, 1)
    assert torch.equal(ours.grad, plain.grad) and ours.J == plain.J and kept == 1.0


@pytest.mark.parametrize("parts", [2, 3])
def test_the_parts_add_up_to_the_whole_set_and_the_mask_keeps_where_their_signs_agree(task: Task, parts: int) -> None:
    gamma = random_policy(task, 6)
    whole = policy_gradient(task, gamma, 0.3)
    ours, kept = agreement_gradient(task, gamma, 0.3, parts)
    torch.testing.assert_close(ours.desired, whole.desired, rtol=1e-12, atol=1e-12)
    assert pytest.approx(whole.J, rel=1e-12) == ours.J
    torch.testing.assert_close(ours.test, whole.test, rtol=0, atol=0)
    # each part's own gradient, centred per row: the mask is where all their signs are equal
    grads = [policy_gradient(replace(task, desired=p), gamma, 0.3).grad for p in desired_parts(task.desired, parts)]
    signs = torch.stack([torch.sign(g - g.mean(dim=1, keepdim=True)) for g in grads])
    expected = (signs == signs[0]).all(dim=0)
    assert torch.equal(agreement_mask(grads), expected)
    assert 0.0 < kept < 1.0 and kept == pytest.approx(expected.double().mean().item())
    torch.testing.assert_close(ours.grad, whole.grad * expected, rtol=1e-10, atol=1e-14)


def test_parts_that_are_copies_of_each_other_agree_everywhere() -> None:
    task = tiny_perceptron()
    half = task.desired.chunk(slice(0, len(task.desired) // 2))
    doubled = replace(task, desired=Split(torch.cat([half.inputs] * 2), torch.cat([half.targets] * 2)))
    gamma = random_policy(task, 5)
    ours, kept = agreement_gradient(doubled, gamma, 0.3, 2)
    assert kept == 1.0
    torch.testing.assert_close(ours.grad, policy_gradient(doubled, gamma, 0.3).grad, rtol=1e-10, atol=1e-14)


def test_parts_are_near_equal_and_cover_the_desired_set_once() -> None:
    desired = tiny_perceptron().desired  # 12 examples after the holdout
    parts = desired_parts(desired, 5)
    assert [len(p) for p in parts] == [2, 3, 2, 3, 2]
    assert torch.equal(torch.cat([p.inputs for p in parts]), desired.inputs)


def test_more_parts_than_desired_examples_are_refused_naming_the_field() -> None:
    task = tiny_perceptron()
    with pytest.raises(InvalidInputError) as err:
        agreement_gradient(task, random_policy(task, 3), 0.3, len(task.desired) + 1)
    assert err.value.field == "search.agreement_splits" and "empty" in err.value.message


@pytest.mark.parametrize("splits", [-1, 9])
def test_the_run_spec_refuses_a_part_count_out_of_range(splits: int) -> None:
    with pytest.raises(InvalidInputError) as err:
        replace(PAPER, search=replace(PAPER.search, agreement_splits=splits)).validate()
    assert err.value.field == "search.agreement_splits"


def test_a_search_with_agreement_moves_the_policy_and_lowers_the_desired_area() -> None:
    task = tiny_perceptron()
    cfg = SearchConfig(outer_iters=4, outer_lr=0.5, optimizer="rowwise", holdout=0.0, agreement_splits=2)
    result = search_policy(task, 20, 0.3, cfg)
    areas = [it.j_desired for it in result.history]
    assert min(areas[1:]) < areas[0]
    assert all(0.0 < it.kept_share < 1.0 for it in result.history)
    plain = search_policy(task, 20, 0.3, replace(cfg, agreement_splits=0))
    assert all(it.kept_share == 1.0 for it in plain.history)
    assert not torch.allclose(result.gamma, torch.full_like(result.gamma, 1 / task.n_train))


def test_the_perceptrons_fused_parts_equal_the_generic_adjoint_part_by_part() -> None:
    task = tiny_perceptron()
    gamma = random_policy(task, 7)
    fused, kept_fused = agreement_gradient(task, gamma, 0.3, 3, mode="fused")
    generic, kept_generic = agreement_gradient(task, gamma, 0.3, 3, mode="reverse")
    assert kept_fused == kept_generic
    torch.testing.assert_close(fused.grad, generic.grad, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(fused.desired, generic.desired, rtol=1e-12, atol=1e-14)
