"""A finished job's result as the store keeps it (JSON in the job's row): the run's JobOutcome,
its comparison included, and the ids of the curves stored from the run. The executor writes it
(base.py); GetJob (convert.job_to_pb) and RenderReport (convert.job_comparison) read it.

    {"outcome": JobOutcome.to_dict(), "curve_ids": {"conventional/test": id, "optimal/test": id, ...}}

Rows written before outcomes were typed hold {"summary", "comparison_pb", "curve_ids"}, with the
summary keys of their version: they have no StoredResult, and GetJob echoes them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fitting.comparison import ComparisonResult
from service.server.store import JobRecord
from trainers.outcome import JobOutcome

BASELINE_CURVE = "conventional/test"  # the curves the run's comparison compares, by their key
CANDIDATE_CURVE = "optimal/test"


@dataclass(frozen=True)
class JobComparison:
    """The comparison a job's run made of its two test curves (with the run's seed, bootstrap
    and fitting range), and the ids those curves were stored under."""

    comparison: ComparisonResult
    baseline_id: str  # the conventional policy's test curve
    candidate_ids: list[str]  # the near-optimal policy's test curve


@dataclass(frozen=True, eq=False)
class StoredResult:
    outcome: JobOutcome
    curve_ids: Mapping[str, str]  # "policy/split" -> curve id

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> StoredResult:
        return cls(JobOutcome.from_dict(result["outcome"]), dict(result["curve_ids"]))

    @property
    def comparison(self) -> JobComparison | None:
        """None for a run without a policy search (nothing to compare)."""
        comparison = self.outcome.comparison
        if comparison is None or CANDIDATE_CURVE not in self.curve_ids:
            return None
        return JobComparison(comparison, self.curve_ids[BASELINE_CURVE], [self.curve_ids[CANDIDATE_CURVE]])


def result_to_store(outcome: JobOutcome) -> dict[str, object]:
    """The result the store keeps, less the curve ids it adds once the curves have them."""
    return {"outcome": outcome.to_dict()}


def stored_result(job: JobRecord) -> StoredResult | None:
    """The job's result; None until it has succeeded, and for a row stored before outcomes were typed."""
    return None if job.result is None or "outcome" not in job.result else StoredResult.of(job.result)
