"""Numbers for people: service/formatting.py."""

from __future__ import annotations

import math

import pytest

from service import formatting


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (316227766.0, "3.16e8"),
        (3.16e8, "3.16e8"),
        (0.1200000043, "0.12"),
        (0.05, "0.05"),
        (2.954, "2.95"),
        (2000.0, "2000"),
        (20000, "20000"),
        (2e6, "2e6"),
        (1234.5, "1.23e3"),
        (1.2e-5, "1.2e-5"),
        (-0.5, "-0.5"),
        (0.0, "0"),
        (math.nan, "-"),
        (None, "-"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_number(value: float | None, text: str) -> None:
    assert formatting.number(value) == text


def test_interval_and_its_absence() -> None:
    assert formatting.interval(2.954, 2.81, 3.1) == "2.95 [2.81, 3.1]"
    assert formatting.interval(3.16e8, 2.9e8, 3.4e8) == "3.16e8 [2.9e8, 3.4e8]"
    assert formatting.interval(2.954, math.nan, math.nan) == "2.95"  # Wald-less, no bootstrap
    assert formatting.interval(math.nan, math.nan, math.nan) == "-"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42.7, "42s"), (61, "1m"), (3 * 3600 + 5, "3h"), (2 * 86400, "2d")]
)
def test_age(seconds: float, text: str) -> None:
    assert formatting.age(seconds) == text


def test_percent() -> None:
    assert formatting.percent(0.456) == "46%"
    assert formatting.percent(1.0) == "100%"
    assert formatting.percent(math.nan) == "-"


def test_the_jobs_table_has_a_replica_column_only_where_jobs_name_one() -> None:
    from service.models import JobInfo
    from service.result_tables import jobs_table

    def job(replica: str) -> JobInfo:
        return JobInfo(id="j-1", state="RUNNING", progress=0.5, message="m", error="", curve_ids=[], summary={},
                       replica=replica)  # fmt: skip

    assert "replica" not in jobs_table([job("")]).columns
    table = jobs_table([job("a"), job("")])
    column = table.columns.index("replica")
    assert [row[column] for row in table.rows] == ["a", "-"]
