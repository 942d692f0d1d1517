"""A finished job keeps its run's JobOutcome (JSON, the comparison whole): GetJob sends the same
summary keys and comparison as before, RenderReport draws the job's own comparison
(convert.job_comparison), and a row stored before outcomes were typed still reads back."""

from __future__ import annotations

import json
import math

import numpy as np

import fitting
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service.client import ScalingLawClient
from service.server.convert import comparison_to_pb, job_comparison
from service.server.jobs.results import stored_result
from service.server.store import CurveMeta, CurvePoints
from tests.service.conftest import RunningServer
from tests.trainers.test_outcome import SUMMARY_KEYS

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


def test_a_job_keeps_its_outcome_and_its_comparison(server: RunningServer, client: ScalingLawClient) -> None:
    job = client.start_training(
        "perceptron", steps=40, device="cpu", bootstrap=20, config=TINY, search={"outer_iters": 1}
    )
    assert list(client.watch(job.id))[-1].state == "SUCCEEDED"
    record = server.parts.store.get_job(job.id)
    assert record.result is not None and set(record.result) == {"outcome", "curve_ids"}
    stored = stored_result(record)
    assert stored is not None and stored.outcome.optimal is not None and stored.outcome.steps == 40
    reply = client._stub.GetJob(pb.GetJobRequest(id=job.id), timeout=60)
    summary = json.loads(reply.result.summary_json)
    assert list(summary) == SUMMARY_KEYS  # what the client and the CLI read, key for key
    assert summary["fit_optimal"] == dict(stored.outcome.optimal.fit) and summary["outer_iters"] == 1
    law = reply.result.optimal_law  # the zero-weight shares on both sides of CT = 0, measured by the run
    assert law.zero_weight_fraction == stored.outcome.zero_weight_fraction
    assert law.zero_weight_fraction_positive == stored.outcome.zero_weight_fraction_positive
    assert 0.0 <= law.zero_weight_fraction_positive <= 1.0
    assert law.nonpositive_weight == stored.outcome.nonpositive_weight and 0.0 <= law.nonpositive_weight <= 1.0
    compared = job_comparison(record)
    assert compared is not None
    ids = record.result["curve_ids"]
    assert (compared.baseline_id, compared.candidate_ids) == (ids["conventional/test"], [ids["optimal/test"]])
    # what GetJob sends is the stored comparison, converted once on the way out
    sent = comparison_to_pb(compared.comparison, compared.baseline_id, compared.candidate_ids)
    assert sent == reply.result.comparison
    samples = compared.comparison.candidates[0].fit.samples
    assert samples is not None and samples.shape == (20, 3)  # the bootstrap the run made, for the AR's intervals
    assert [h.iteration for h in reply.result.history] == [0, 1]


def test_a_job_stored_before_outcomes_were_typed_reads_back(server: RunningServer, client: ScalingLawClient) -> None:
    store = server.parts.store
    request = pb.StartTrainingRequest(task=pb.TASK_PERCEPTRON, study="old")
    record, _ = store.create_job(request_id="", study="old", spec={}, request=request.SerializeToString())
    history = [{"iteration": 0, "j_desired": 1.0, "j_holdout": 1.0, "j_test": 1.0, "lr": 0.1, "seconds": 0.5}]
    summary = {
        "sim_conventional": 0.4, "sim_optimal": 0.5, "zero_weight_fraction_optimal": 0.9, "steps": 2, "history": history
    }  # fmt: skip
    x = np.arange(1.0, 101.0)
    made = fitting.compare_curves((x, 0.1 + (50 / x) ** 0.5), [(x, 0.1 + (20 / x) ** 0.6)], bootstrap=0)
    comparison = comparison_to_pb(made, "b", ["c"])
    points = CurvePoints(np.array([1.0, 2.0]), np.array([1.0, 0.5]), {})
    curves = {"conventional/test": (CurveMeta(name="old", study="old", split="test"), points)}
    legacy = {"summary": summary, "comparison_pb": comparison.SerializeToString().hex()}
    assert store.finish_job(record.id, curves, lambda ids: legacy)
    stored = store.get_job(record.id)
    assert stored_result(stored) is None
    compared = job_comparison(stored)  # from its message: what RenderReport draws for it
    assert compared is not None and (compared.baseline_id, compared.candidate_ids) == ("b", ["c"])
    assert compared.comparison.candidates[0].fit.params == made.candidates[0].fit.params
    reply = client._stub.GetJob(pb.GetJobRequest(id=record.id), timeout=60)
    assert json.loads(reply.result.summary_json) == summary  # echoed as it was kept, whatever its keys
    assert reply.result.comparison == comparison and reply.result.optimal_law.zero_weight_fraction == 0.9
    assert math.isnan(reply.result.optimal_law.zero_weight_fraction_positive)  # not measured back then
    assert math.isnan(reply.result.optimal_law.nonpositive_weight)
    assert [h.j_test for h in reply.result.history] == [1.0]
