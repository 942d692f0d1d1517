"""ScalingLawClient: the Python client. Takes arrays, lists or pandas objects, chunks uploads,
returns pydantic models (service/models.py) and raises a closed set of exceptions
(service/client/errors.py); both are importable from `service.client` too.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
import pandas as pd

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service import wire
from service.client.analysis import AnalysisCalls
from service.client.arguments import as_columns, in_caller_terms, learning_rates
from service.client.errors import (
    DuplicateCurveWarning,
    InvalidArgument,
    Unavailable,
    translate,
)
from service.client.importers import LogCurve, LogReadError
from service.client.log_upload import upload_log_curves
from service.models import (
    CurveInfo,
    JobEventInfo,
    JobInfo,
    curve_from_pb,
    job_from_pb,
)

T = TypeVar("T")


def _pick(given: Any, stored: Any, default: Any) -> Any:
    """An argument given, else the value read_curve's frame carries, else the default."""
    return given if given is not None else stored if stored is not None else default


def _read_log(read: Callable[[], list[LogCurve]]) -> list[LogCurve]:
    """A log read on this side, its LogReadError an InvalidArgument like the server's refusals."""
    try:
        return read()
    except LogReadError as exc:
        raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, str(exc), []) from None


class ScalingLawClient(AnalysisCalls):
    """client = ScalingLawClient("127.0.0.1:50051", token=None). Curves and jobs here; fits,
    comparisons, reports, backtests and predictions in AnalysisCalls (service/client/analysis.py)."""

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        timeout: float = 300.0,
        retries: int = 3,
        root_certificates: bytes | None = None,
    ):
        """root_certificates (PEM): connect with TLS, trusting them; None: plaintext."""
        options = [("grpc.max_receive_message_length", 64 * 2**20)]
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.ScalingLawServiceStub(self._channel)
        # the same RPC taking pre-serialized requests: chunks are built as wire bytes
        self._upload_raw = self._channel.stream_unary(
            "/scalinglaw.v1.ScalingLawService/UploadCurve", response_deserializer=pb.Curve.FromString
        )
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        self.retries = retries

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ScalingLawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Retries UNAVAILABLE unless idempotent=False (a call whose repeat does something else).
        StartTraining and UploadCurve carry a request id, so their repeats return the original."""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except grpc.RpcError as err:
                error = translate(err)
                if not (idempotent and isinstance(error, Unavailable) and attempt < self.retries):
                    raise error from None
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    # -- curves ---------------------------------------------------------------------------------

    def upload_curve(
        self,
        x: Any,
        loss: Any = None,
        *,
        name: str | None = None,
        policy: str | None = None,
        study: str | None = None,
        split: str | None = None,
        vocab_size: int | None = None,
        x_unit: str | None = None,
        tokens_per_step: float | None = None,
        labels: Mapping[str, str] | None = None,
        x_col: str | None = None,
        loss_col: str = "loss",
        columns: Mapping[str, Sequence[float]] | None = None,
        lr: Sequence[float] | np.ndarray | str | None = None,
        request_id: str | None = None,
        skip_duplicate: bool = False,
        chunk_points: int = 65_536,
    ) -> CurveInfo:
        """Upload (x, loss) arrays, a DataFrame (x_col, loss_col) or a Series indexed by step.
        A request id is generated when none is given, so the retry of a dropped stream is safe.

        What read_curve returns is accepted as it is: its columns x and loss, and its metadata
        (frame.attrs) as the defaults of the arguments not given. Otherwise the defaults are the
        CLI's: split "test", x_unit "step", and a name from the loss column or Series. The reply's
        duplicate_of names an earlier curve of the study with the same points; skip_duplicate then
        stores nothing and returns that one (skipped=True). `lr`: the learning rate of each point
        (values, or the name of a column of the DataFrame x), stored as the input column "lr" that
        schedule-aware laws read; the same as columns={"lr": ...}."""
        xs, ls = as_columns(x, loss, x_col, loss_col)
        given = getattr(x, "attrs", {}).get("scalinglaw", {}) if isinstance(x, pd.DataFrame | pd.Series) else {}
        extra = {k: np.asarray(v, dtype=float) for k, v in (columns or {}).items()}
        if columns is None and given and isinstance(x, pd.DataFrame):  # read_curve's extra input columns too
            extra = {str(k): x[k].to_numpy(dtype=float) for k in x.columns if k not in ("x", "step", loss_col)}
        if lr is not None:
            if "lr" in extra and columns is not None:
                raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "give lr or columns['lr'], not both", ["lr"])
            extra["lr"] = learning_rates(x, lr, xs.size)
        default_name = loss_col if isinstance(x, pd.DataFrame) else str(getattr(x, "name", None) or "loss")
        header = pb.CurveHeader(
            name=_pick(name, given.get("name"), default_name), policy=_pick(policy, given.get("policy"), ""),
            study=_pick(study, given.get("study"), ""), split=_pick(split, given.get("split"), "test"),
            vocab_size=_pick(vocab_size, given.get("vocab_size"), 0), x_unit=_pick(x_unit, given.get("x_unit"), "step"),
            tokens_per_step=_pick(tokens_per_step, given.get("tokens_per_step"), 0.0),
            labels=dict(_pick(labels, given.get("labels"), {})), request_id=request_id or uuid.uuid4().hex,
            extra_columns=list(extra), expected_points=xs.size, skip_duplicate=skip_duplicate,
        )  # fmt: skip

        def messages() -> Iterator[bytes]:
            yield pb.UploadCurveRequest(header=header).SerializeToString()
            for start in range(0, max(xs.size, 1), chunk_points):
                sl = slice(start, start + chunk_points)
                if not extra and xs[sl].size == ls[sl].size:  # the common case: pre-built wire bytes
                    yield wire.upload_chunk(xs[sl], ls[sl])
                    continue
                cols = [pb.NamedColumn(name=k, values=v[sl]) for k, v in extra.items()]
                chunk = pb.PointsChunk(x=xs[sl], loss=ls[sl], columns=cols)
                yield pb.UploadCurveRequest(chunk=chunk).SerializeToString()

        try:
            reply = self._call(lambda: self._upload_raw(messages(), timeout=self.timeout, metadata=self._metadata))
        except InvalidArgument as exc:
            raise in_caller_terms(exc) from None
        info = curve_from_pb(reply)
        if info.duplicate_of and not info.skipped:
            warnings.warn(
                f"curve {info.id} ({info.name}) has the same points as {info.duplicate_of}, stored before in study "
                f"{info.study!r}; skip_duplicate=True skips such uploads",
                DuplicateCurveWarning,
                stacklevel=2,
            )
        return info

    def get_curve(self, curve_id: str) -> CurveInfo:
        request = pb.GetCurveRequest(id=curve_id)
        return curve_from_pb(
            self._call(lambda: self._stub.GetCurve(request, timeout=self.timeout, metadata=self._metadata))
        )

    def list_curves(self, *, study: str = "", policy: str = "", page_size: int = 200) -> list[CurveInfo]:
        pages = self._pages(
            lambda token: pb.ListCurvesRequest(study=study, policy=policy, page_size=page_size, page_token=token),
            self._stub.ListCurves,
        )
        return [curve_from_pb(c) for page in pages for c in page.curves]

    def delete_curve(self, curve_id: str) -> None:
        request = pb.DeleteCurveRequest(id=curve_id)
        # not retried: after a lost reply the retry would find the curve gone and say NotFound
        self._call(
            lambda: self._stub.DeleteCurve(request, timeout=self.timeout, metadata=self._metadata), idempotent=False
        )

    def upload_tensorboard(
        self, path: str | Path, tags: Sequence[str], *, dropna: bool = False, lr_tag: str | None = None, **meta: Any
    ) -> list[CurveInfo]:
        """Every run's scalar `tags` under a TensorBoard log directory (or one event file), one curve
        per run and tag named "RUN/TAG" (service/client/importers/tensorboard_logs.py); all or none stored.
        lr_tag: the run's learning-rate tag, stored with each curve as its "lr" column, paired by step.
        meta: upload_curve's keyword arguments (study, policy, labels, ...)."""
        from service.client.importers.tensorboard_logs import read_tensorboard

        def read() -> list[LogCurve]:
            return read_tensorboard(Path(path), tags, dropna=dropna, lr_tag=lr_tag)

        return upload_log_curves(self, _read_log(read), **meta)

    def import_mlflow(
        self,
        tracking_uri: str,
        metrics: Sequence[str],
        *,
        run_id: str = "",
        experiment: str = "",
        dropna: bool = False,
        lr_metric: str | None = None,
        **meta: Any,
    ) -> list[CurveInfo]:
        """The metric histories of one MLflow run or every run of an experiment, one curve per run
        and metric named "RUN_NAME/METRIC" (service/client/importers/mlflow_runs.py); all or none stored.
        lr_metric: the run's learning-rate metric, stored with each curve as its "lr" column."""
        from service.client.importers.mlflow_runs import read_mlflow

        def read() -> list[LogCurve]:
            return read_mlflow(
                tracking_uri, metrics, run_id=run_id, experiment=experiment, dropna=dropna, lr_metric=lr_metric
            )

        return upload_log_curves(self, _read_log(read), **meta)

    def read_curve(self, curve_id: str) -> pd.DataFrame:
        """The stored points as a DataFrame with columns x, loss (and any extra columns); the
        curve's metadata rides along in frame.attrs["scalinglaw"], so upload_curve takes it back."""

        def read() -> pd.DataFrame:
            xs: list[np.ndarray] = []
            ls: list[np.ndarray] = []
            extra: dict[str, list[np.ndarray]] = {}
            request = pb.ReadCurvePointsRequest(id=curve_id)
            for chunk in self._stub.ReadCurvePoints(request, timeout=self.timeout, metadata=self._metadata):
                xs.append(np.asarray(chunk.x))
                ls.append(np.asarray(chunk.loss))
                for col in chunk.columns:
                    extra.setdefault(col.name, []).append(np.asarray(col.values))
            data = {"x": np.concatenate(xs), "loss": np.concatenate(ls)}
            data.update({k: np.concatenate(v) for k, v in extra.items()})
            return pd.DataFrame(data)

        frame = self._call(read)
        info = self.get_curve(curve_id)
        frame.attrs["scalinglaw"] = info.model_dump(
            include={"id", "name", "policy", "study", "split", "vocab_size", "x_unit", "tokens_per_step", "labels"}
        )
        return frame

    # -- training jobs --------------------------------------------------------------------------

    def start_training(
        self,
        task: str = "perceptron",
        *,
        steps: int = 0,
        eta: float = 0.0,
        seed: int = 0,
        device: str = "auto",
        bootstrap: int = 0,
        study: str = "",
        request_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        search: Mapping[str, Any] | None = None,
        preset: str = "",
        lr_schedule: str = "",
    ) -> JobInfo:
        """Start a run; zero/unset fields take the trainer's defaults, or the preset's when one is
        named ("paper": the paper's perceptron protocol, docs/reproduction.md). lr_schedule:
        constant, cosine, wsd or step; the job's curves carry each step's rate (column lr)."""
        kinds = {"perceptron": pb.TASK_PERCEPTRON, "transformer_lm": pb.TASK_TRANSFORMER_LM}
        kinds["transformer-lm"] = pb.TASK_TRANSFORMER_LM
        devices = {"auto": pb.DEVICE_AUTO, "cpu": pb.DEVICE_CPU, "cuda": pb.DEVICE_CUDA}
        optimizers = {
            "sgd": pb.OPTIMIZER_SGD, "normalized": pb.OPTIMIZER_NORMALIZED, "eg": pb.OPTIMIZER_EG,
            "rowwise": pb.OPTIMIZER_ROWWISE,
        }  # fmt: skip
        search = dict(search or {})
        if "optimizer" in search:
            search["optimizer"] = optimizers[search["optimizer"]]
        request = pb.StartTrainingRequest(
            task=kinds.get(task, pb.TASK_UNSPECIFIED), steps=steps, eta=eta, seed=seed,
            device=devices.get(device, pb.DEVICE_UNSPECIFIED), bootstrap=bootstrap, study=study,
            request_id=request_id or uuid.uuid4().hex, search=pb.SearchConfig(**search), preset=preset,
            lr_schedule=lr_schedule,
        )  # fmt: skip
        if task == "perceptron":
            request.perceptron.CopyFrom(pb.PerceptronConfig(**(config or {})))
        elif task in kinds:
            request.transformer.CopyFrom(pb.TransformerConfig(**(config or {})))
        return job_from_pb(
            self._call(lambda: self._stub.StartTraining(request, timeout=self.timeout, metadata=self._metadata))
        )

    def get_job(self, job_id: str) -> JobInfo:
        request = pb.GetJobRequest(id=job_id)
        return job_from_pb(
            self._call(lambda: self._stub.GetJob(request, timeout=self.timeout, metadata=self._metadata))
        )

    def list_jobs(self, *, study: str = "", state: str = "", page_size: int = 100) -> list[JobInfo]:
        """Every job (of a study, in a state such as "RUNNING" when given), oldest first."""
        filter_state = pb.JobState.Value(f"JOB_STATE_{state.upper()}") if state else pb.JOB_STATE_UNSPECIFIED
        pages = self._pages(
            lambda token: pb.ListJobsRequest(study=study, state=filter_state, page_size=page_size, page_token=token),
            self._stub.ListJobs,
        )
        return [job_from_pb(j) for page in pages for j in page.jobs]

    def _pages(self, request: Callable[[str], Any], rpc: Callable[..., Any]) -> Iterator[Any]:
        """Every page of a listing RPC, following next_page_token from the first page on."""
        token = ""
        while True:
            message = request(token)
            page = self._call(lambda m=message: rpc(m, timeout=self.timeout, metadata=self._metadata))  # type: ignore[misc]
            yield page
            token = page.next_page_token
            if not token:
                return

    def cancel_job(self, job_id: str) -> JobInfo:
        request = pb.CancelJobRequest(id=job_id)
        return job_from_pb(
            self._call(lambda: self._stub.CancelJob(request, timeout=self.timeout, metadata=self._metadata))
        )

    def watch(self, job_id: str, after_seq: int = 0) -> Iterator[JobEventInfo]:
        """Every event after after_seq, then live ones, until the job ends."""
        request = pb.WatchJobRequest(job_id=job_id, after_seq=after_seq)
        try:
            for e in self._stub.WatchJob(request, metadata=self._metadata):
                state = pb.JobState.Name(e.state).removeprefix("JOB_STATE_")
                yield JobEventInfo(
                    seq=e.seq, phase=e.phase, message=e.message, progress=e.progress, state=state, replica=e.replica
                )
        except grpc.RpcError as err:
            raise translate(err) from None
