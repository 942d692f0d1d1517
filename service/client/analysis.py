"""The client's analysis calls: fits, comparisons, reports, backtests, predictions and plans. A part of
ScalingLawClient (it inherits them), kept apart so that each file stays readable; they reach the
server through the client's own channel, retries and error translation."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
import numpy as np
import pandas as pd

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service import report_formats
from service.client.arguments import learning_rates
from service.client.errors import InvalidArgument
from service.models import BacktestRowInfo, ComparisonInfo, FitInfo, backtest_from_pb, comparison_from_pb, fit_from_pb
from service.plan_models import plan_frame, plan_from_pb

T = TypeVar("T")


class AnalysisCalls:
    """What ScalingLawClient provides these calls with (it defines each)."""

    _stub: Any
    _metadata: tuple[tuple[str, str], ...]
    timeout: float

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        raise NotImplementedError  # ScalingLawClient._call: retries and error translation

    def report(
        self,
        *,
        job_id: str | None = None,
        baseline_id: str | None = None,
        candidate_ids: Sequence[str] = (),
        fmt: str | None = None,
        path: str | os.PathLike[str] | None = None,
        x_min: float | None = None,
        bootstrap: int = 0,
        target_losses: Sequence[float] = (),
        law: str | None = None,
        shared: Sequence[str] | None = None,
        x_max: float | None = None,
        method: str = "robust",
    ) -> bytes:
        """A report of a job or of stored curves, rendered by the server and written to `path` when
        given. The format is `fmt` (png, svg, pdf or html), else `path`'s extension, else png. html
        is one self-contained page of the figure, the fitted laws, the tables and the settings;
        target_losses add its speed-up table (curves only). A job's report draws the comparison the
        job stored, so the fit options (law, shared, x_min, x_max, method, bootstrap) are for
        curves, as in compare(); bootstrap 0: the server's choice."""
        chosen = fmt or (report_formats.format_of(path) if path else "png")
        if chosen is None or chosen not in report_formats.FORMATS.values():
            reason = report_formats.unknown_format(path or "") if chosen is None else f"no report format {chosen!r}"
            raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, reason, [f"fmt: {reason}"])
        formats = {
            "png": pb.REPORT_FORMAT_PNG, "svg": pb.REPORT_FORMAT_SVG, "pdf": pb.REPORT_FORMAT_PDF,
            "html": pb.REPORT_FORMAT_HTML,
        }  # fmt: skip
        options = self._options(
            method=method, law=law, shared=list(shared or []), x_min=x_min, x_max=x_max, bootstrap=bootstrap, fixed=None
        )
        request = pb.RenderReportRequest(
            format=formats[chosen], target_losses=list(target_losses), options=options,
            share_nothing=shared is not None and not shared,
        )  # fmt: skip
        if job_id:
            request.job_id = job_id
        else:
            request.curves.CopyFrom(pb.CurveSet(baseline_id=baseline_id or "", candidate_ids=list(candidate_ids)))
        reply = self._call(lambda: self._stub.RenderReport(request, timeout=self.timeout, metadata=self._metadata))
        content = bytes(reply.content)
        if path:
            with open(path, "wb") as fh:
                fh.write(content)
        return content

    # -- fits -----------------------------------------------------------------------------------

    @staticmethod
    def _options(**kw: Any) -> pb.FitOptions:
        method = {"robust": pb.FIT_METHOD_ROBUST, "paper": pb.FIT_METHOD_PAPER}[kw.pop("method")]
        opts = pb.FitOptions(method=method, **{k: v for k, v in kw.items() if v is not None and k != "fixed"})
        opts.fixed.update(kw.get("fixed") or {})
        return opts

    def fit(
        self,
        curve_ids: Sequence[str],
        *,
        law: str = "step_power",
        shared: Sequence[str] = (),
        x_min: float | None = None,
        x_max: float | None = None,
        fixed: Mapping[str, float] | None = None,
        method: str = "robust",
        loss_fn: str = "huber",
        delta: float | None = None,
        bootstrap: int = 0,
        seed: int = 0,
    ) -> list[FitInfo]:
        options = self._options(
            law=law, shared=list(shared), x_min=x_min, x_max=x_max, fixed=fixed, method=method,
            loss_fn=loss_fn, delta=delta, bootstrap=bootstrap, seed=seed,
        )  # fmt: skip
        request = pb.FitCurvesRequest(curve_ids=list(curve_ids), options=options)
        # not retried: each call stores its fits, so a retry after a lost reply would store them twice
        reply = self._call(
            lambda: self._stub.FitCurves(request, timeout=self.timeout, metadata=self._metadata), idempotent=False
        )
        return [fit_from_pb(f) for f in reply.fits]

    def predict(
        self,
        source: str,
        x: Sequence[float],
        *,
        lr: Sequence[float] | None = None,
        law: str = "step_power",
        x_min: float | None = None,
        x_max: float | None = None,
        bootstrap: int = 0,
        seed: int = 0,
    ) -> pd.DataFrame:
        """The loss a law predicts at the steps x: `source` is a stored fit's id ("f-...": its law
        and parameters, no band) or a curve's id (fitted now with law, x_min, x_max; bootstrap > 0
        gives the band). lr: the learning rate at each x for a schedule law, from the start of
        training. A DataFrame with columns x, loss, low, high; the fit in attrs["fit"]."""
        xs = np.asarray(x, dtype=float)
        rates = learning_rates(None, lr, xs.size) if lr is not None else np.zeros(0)
        options = self._options(law=law, x_min=x_min, x_max=x_max, method="robust", bootstrap=bootstrap, seed=seed,
                                fixed=None)  # fmt: skip
        request = pb.PredictCurveRequest(options=options, x=xs, lr=rates)
        if source.startswith("f-"):
            request.fit_id = source
        else:
            request.curve_id = source
        reply = self._call(lambda: self._stub.PredictCurve(request, timeout=self.timeout, metadata=self._metadata))
        columns = {"x": reply.x, "loss": reply.loss, "low": reply.low, "high": reply.high}
        frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})
        frame.attrs["fit"] = fit_from_pb(reply.fit).model_dump()
        return frame

    def plan(
        self,
        fit_id: str,
        budgets: Sequence[float],
        *,
        flops_per_token: float = 6.0,
        figure: str | os.PathLike[str] | None = None,
        isoflop_width: float = 0.0,
    ) -> pd.DataFrame:
        """How big a model and how many tokens for each compute budget (FLOPs), from a stored fit
        of a law in N and D (chinchilla): one row per budget with N*, D*, D*/N* and the loss reached,
        each with its 95 % interval from the fit's resamples (fit with bootstrap > 0), the orders of
        magnitude the budget lies outside the fitted runs' compute, and N_opt and D_opt from the
        IsoFLOP profiles of the fitted runs (NaN where they make none); plan_models.PLAN_COLUMNS.
        attrs["plan"]: the whole plan (the exponents a and b, the profiles, the fit). figure: write
        the plan's figure there (.png, .svg or .pdf). isoflop_width: decades either side of a
        budget a run may lie in its profile (0: the server's 0.04)."""
        chosen = report_formats.format_of(figure) if figure else None
        if figure and chosen not in ("png", "svg", "pdf"):
            reason = f"figure: a plan's figure is .png, .svg or .pdf, not {os.fspath(figure)!r}"
            raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, reason, [reason])
        formats = {"png": pb.REPORT_FORMAT_PNG, "svg": pb.REPORT_FORMAT_SVG, "pdf": pb.REPORT_FORMAT_PDF}
        request = pb.PlanComputeRequest(
            fit_id=fit_id, budgets=[float(b) for b in budgets], flops_per_token=flops_per_token,
            with_figure=figure is not None, figure_format=formats.get(chosen or "", pb.REPORT_FORMAT_UNSPECIFIED),
            isoflop_width=isoflop_width,
        )  # fmt: skip
        reply = self._call(lambda: self._stub.PlanCompute(request, timeout=self.timeout, metadata=self._metadata))
        if figure:
            with open(figure, "wb") as fh:
                fh.write(bytes(reply.figure))
        return plan_frame(plan_from_pb(reply))

    def list_fits(self, curve_id: str) -> list[FitInfo]:
        """Every fit stored for the curve, oldest first."""
        request = pb.ListFitsRequest(curve_id=curve_id)
        reply = self._call(lambda: self._stub.ListFits(request, timeout=self.timeout, metadata=self._metadata))
        return [fit_from_pb(f) for f in reply.fits]

    def compare(
        self,
        baseline_id: str,
        candidate_ids: Sequence[str],
        *,
        horizons: Sequence[float] = (),
        target_losses: Sequence[float] = (),
        law: str = "step_power",
        shared: Sequence[str] | None = None,
        x_min: float | None = None,
        x_max: float | None = None,
        method: str = "robust",
        bootstrap: int = 0,
        seed: int = 0,
    ) -> ComparisonInfo:
        """The baseline against each candidate. shared: the parameters fitted once for all curves;
        () fits everything per curve; None (default) shares L0 unless the data reject one floor
        (ComparisonInfo.shared_floor says which, and why). bootstrap 0 (default): the server's
        choice, 200 resamples where the limits allow (each fit's n_bootstrap says how many)."""
        options = self._options(
            law=law, shared=list(shared or []), x_min=x_min, x_max=x_max, method=method, bootstrap=bootstrap,
            seed=seed, fixed=None,
        )  # fmt: skip
        request = pb.CompareCurvesRequest(
            baseline_id=baseline_id, candidate_ids=list(candidate_ids), options=options,
            horizons=list(horizons), target_losses=list(target_losses), share_nothing=shared is not None and not shared,
        )  # fmt: skip
        reply = self._call(lambda: self._stub.CompareCurves(request, timeout=self.timeout, metadata=self._metadata))
        return comparison_from_pb(reply)

    def backtest(
        self,
        curve_ids: Sequence[str] = (),
        *,
        laws: Sequence[str] = ("step_power",),
        train_fractions: Sequence[float] = (),
        pairs: Sequence[tuple[str, str]] | None = None,
        bootstrap: int = 100,
        x_min: float | None = None,
        x_max: float | None = None,
        seed: int = 0,
    ) -> list[BacktestRowInfo]:
        """Each law fitted on the first train_fractions of each curve's x range (default 0.5 and
        0.8) and on the first curve of each pair (fit on, predict), scored on what it did not see;
        setting by setting, each setting's laws by mean error (backtest_frame makes a DataFrame).
        bootstrap: resamples of the 95 % prediction band (0: no band, no coverage)."""
        options = self._options(method="robust", x_min=x_min, x_max=x_max, bootstrap=bootstrap, seed=seed, fixed=None)
        request = pb.BacktestLawsRequest(
            curve_ids=list(curve_ids), laws=list(laws), train_fractions=list(train_fractions), options=options,
            pairs=[pb.CurvePair(fit_on=a, predict_on=b) for a, b in pairs or ()],
        )  # fmt: skip
        reply = self._call(lambda: self._stub.BacktestLaws(request, timeout=self.timeout, metadata=self._metadata))
        return backtest_from_pb(reply)
