"""The generated code beside scalinglaw.proto is what protoc makes of it today (never hand-edited)."""

from __future__ import annotations

from pathlib import Path

import pytest

from protos.generate import PROTO, generate
from protos.scalinglaw.v1 import scalinglaw_pb2

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("scalinglaw_pb2.py", "scalinglaw_pb2_grpc.py", "scalinglaw_pb2.pyi")


def test_generated_code_is_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / PROTO.parent / name).read_bytes()
        committed = (ROOT / PROTO.parent / name).read_bytes()
        assert fresh == committed, f"{name} is stale: run `make protos`"


def test_every_enum_starts_unspecified() -> None:
    for enum in scalinglaw_pb2.DESCRIPTOR.enum_types_by_name.values():
        first = enum.values[0]
        assert first.number == 0 and first.name.endswith("_UNSPECIFIED"), enum.name


def test_rpcs_follow_verb_noun_with_their_own_request() -> None:
    service = scalinglaw_pb2.DESCRIPTOR.services_by_name["ScalingLawService"]
    names = {m.name for m in service.methods}
    assert names == {
        "UploadCurve", "GetCurve", "ListCurves", "DeleteCurve", "ReadCurvePoints", "FitCurves", "ListFits",
        "CompareCurves", "StartTraining", "GetJob", "ListJobs", "CancelJob", "WatchJob", "RenderReport", "BacktestLaws",
        "PredictCurve", "PlanCompute",
    }  # fmt: skip
    for method in service.methods:
        assert method.input_type.name == f"{method.name}Request", method.name
