"""ScalingLawService: thin wiring of the store and fitting/ behind the proto. No maths here, and
no try/except: domain errors reach the interceptor (service/server/server.py), which maps them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import fitting
from fitting.compute_optimal import check_budgets, plan_law
from fitting.errors import FitImpossibleError, InvalidInputError, LimitExceededError
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service import wire
from service.server import convert, limits, plan_convert
from service.server import worker_tasks as work
from service.server.compute import ComputePool
from service.server.jobs.base import JobExecutor
from service.server.jobs.results import stored_result
from service.server.reports import MEDIA_TYPES, html
from service.server.store import CurvePoints, JobRecord, Store, StoredCurve
from service.server.upload import UploadAssembler, UploadSlots
from service.settings import Settings

T = TypeVar("T")
_CANCEL_TURNS = 3  # event-loop turns an upload waits for a pending cancellation before committing


class ScalingLawServicer(pb_grpc.ScalingLawServiceServicer):
    def __init__(self, settings: Settings, store: Store, executor: JobExecutor):
        self.settings = settings
        self.store = store
        self.executor = executor
        # user-shaped maths runs in worker processes (service/server/compute.py): never on the event loop's
        # GIL, and a call whose caller gave up stops
        self.compute = ComputePool(
            settings.fit_workers, memory_bytes=settings.fit_memory_bytes, modules=("service.server.worker_tasks",)
        )
        self._admitting = 0  # StartTraining calls between the queue check and the submission
        self.uploads = UploadSlots(
            max_streams=settings.max_concurrent_uploads, max_bytes=settings.max_upload_bytes_in_flight
        )

    def close(self) -> None:
        """Fits nobody waits for any more (the server stopped) are stopped, not awaited at exit."""
        self.compute.close()

    async def _compute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.compute.run(fn, *args, **kwargs)

    # -- curves ---------------------------------------------------------------------------------

    async def UploadCurve(self, request_iterator: AsyncIterator[pb.UploadCurveRequest], context: Any) -> pb.Curve:
        with self.uploads.open() as reserve:
            assembler: UploadAssembler | None = None
            skip_duplicate = False
            async for message in _until_idle(request_iterator, self.settings.upload_idle_seconds):
                if message.HasField("header"):
                    if assembler is not None:
                        raise InvalidInputError("a second header arrived", field="header")
                    meta = convert.meta_from_header(message.header)
                    skip_duplicate = message.header.skip_duplicate
                    limits.check_meta(meta, self.settings)
                    assembler = UploadAssembler(
                        meta,
                        max_points=self.settings.max_points,
                        expected_points=message.header.expected_points,
                        reserve=reserve,
                    )
                elif message.HasField("chunk"):
                    if assembler is None:
                        raise InvalidInputError("the first message must be the header", field="header")
                    chunk = message.chunk
                    limits.check_chunk(len(chunk.x), len(chunk.columns), "chunk", self.settings)
                    assembler.add(chunk.x, chunk.loss, {c.name: c.values for c in chunk.columns})
            if assembler is None:
                raise InvalidInputError("no header: the stream was empty", field="header")
            points = assembler.finish()
            # grpc.aio ends the request stream of a call the client cancelled as if it had finished,
            # and cancels this task one loop turn later (measured: ~0.05 ms). Yield before the
            # commit so a cancelled stream without header.expected_points stores nothing.
            for _ in range(_CANCEL_TURNS):
                await asyncio.sleep(0)
            stored = await asyncio.to_thread(
                self.store.insert_curve, assembler.meta, points, skip_duplicate=skip_duplicate
            )
        return convert.curve_to_pb(stored)

    async def GetCurve(self, request: pb.GetCurveRequest, context: Any) -> pb.Curve:
        return convert.curve_to_pb(await asyncio.to_thread(self.store.get_curve, request.id))

    async def ListCurves(self, request: pb.ListCurvesRequest, context: Any) -> pb.ListCurvesResponse:
        # paged by bytes as well as by count: large labels must not make a reply over the message limit
        curves, token = await asyncio.to_thread(
            self.store.list_curves,
            study=request.study,
            policy=request.policy,
            page_size=request.page_size,
            page_token=request.page_token,
            size_of=lambda c: _item_size(convert.curve_to_pb(c)),
            max_bytes=limits.reply_budget(self.settings),
        )
        return pb.ListCurvesResponse(curves=[convert.curve_to_pb(c) for c in curves], next_page_token=token)

    async def DeleteCurve(self, request: pb.DeleteCurveRequest, context: Any) -> pb.DeleteCurveResponse:
        await asyncio.to_thread(self.store.delete_curve, request.id)
        return pb.DeleteCurveResponse()

    async def ReadCurvePoints(self, request: pb.ReadCurvePointsRequest, context: Any) -> AsyncIterator[pb.PointsChunk]:
        if request.chunk_size < 0:
            raise InvalidInputError(f"must be >= 0, got {request.chunk_size}", field="chunk_size")
        meta = await asyncio.to_thread(self.store.get_curve, request.id)
        n_columns = len(meta.meta.extra_columns)
        if request.chunk_size:
            limits.check_chunk(request.chunk_size, n_columns, "chunk_size", self.settings)
        size = request.chunk_size or min(self.settings.chunk_points, limits.chunk_limit(n_columns, self.settings))
        points = await asyncio.to_thread(self.store.read_points, request.id)
        for start in range(0, points.x.size, size):
            sl = slice(start, start + size)
            if not points.columns:  # the common case goes out as pre-built bytes
                yield wire.points_chunk(points.x[sl], points.loss[sl])  # type: ignore[misc]
                continue
            columns = [pb.NamedColumn(name=k, values=v[sl]) for k, v in points.columns.items()]
            yield pb.PointsChunk(x=points.x[sl], loss=points.loss[sl], columns=columns)

    # -- fits -----------------------------------------------------------------------------------

    async def _curves(self, ids: list[str], field: str) -> list[tuple[StoredCurve, CurvePoints]]:
        """The curves' metadata, checked against the limits, then their points."""
        if not ids:
            raise InvalidInputError("no curve ids given", field=field)
        limits.check_curve_ids(ids, field, self.settings)
        metas = await asyncio.to_thread(lambda: [self.store.get_curve(cid) for cid in ids])
        limits.check_loaded_points([m.n_points for m in metas], field, self.settings)
        return [(meta, await asyncio.to_thread(self.store.read_points, meta.id)) for meta in metas]

    async def _comparison_curves(
        self, baseline_id: str, candidate_ids: list[str], field: str
    ) -> list[tuple[StoredCurve, CurvePoints]]:
        """The baseline's and the candidates' curves (field: where the candidates are named)."""
        if not candidate_ids:
            raise InvalidInputError("no candidate curve ids", field=field)
        if baseline_id in candidate_ids:
            raise InvalidInputError(
                f"is the baseline {baseline_id!r}", field=field, index=candidate_ids.index(baseline_id)
            )
        limits.check_curve_ids(candidate_ids, field, self.settings)
        return await self._curves([baseline_id, *candidate_ids], field)

    async def FitCurves(self, request: pb.FitCurvesRequest, context: Any) -> pb.FitCurvesResponse:
        options = convert.fit_options(request.options)
        loaded = await self._curves(list(request.curve_ids), "curve_ids")
        points = _points_in_range(loaded, options.x_min, options.x_max)
        limits.check_resamples(points, options, "options.bootstrap", self.settings)
        fits = await self._compute(work.fit_curves, [p for _, p in loaded], options)
        record = options.to_dict()
        rows = [(cid, record, fit.to_dict()) for cid, fit in zip(request.curve_ids, fits, strict=True)]
        # all of the request's fits, or none; with their resamples, which plans from a stored fit use
        fit_ids = await asyncio.to_thread(self.store.save_fits, rows, [fit.samples for fit in fits])
        return pb.FitCurvesResponse(
            fits=[
                convert.fit_to_pb(fit, cid, fid) for cid, fit, fid in zip(request.curve_ids, fits, fit_ids, strict=True)
            ]
        )

    async def PredictCurve(self, request: pb.PredictCurveRequest, context: Any) -> pb.PredictCurveResponse:
        limits.check_prediction(request.x, request.lr, self.settings)
        options = convert.fit_options(request.options)
        points, stored, curve_id = None, None, request.curve_id
        if request.HasField("fit_id"):
            curve_id, record = await asyncio.to_thread(self.store.get_fit, request.fit_id)
            stored = convert.fit_from_pb(convert.stored_fit_to_pb(record, curve_id))
        elif request.HasField("curve_id"):
            ((_, points),) = await self._curves([request.curve_id], "curve_id")
            limits.check_resamples([points.x.size], options, "options.bootstrap", self.settings)
        else:
            raise InvalidInputError("give a fit_id or a curve_id", field="source")
        fit, predicted = await self._compute(
            work.predict_curve, points, options, stored, list(request.x), list(request.lr)
        )
        return pb.PredictCurveResponse(
            fit=convert.fit_to_pb(fit, curve_id, request.fit_id), x=predicted.x.tolist(), loss=predicted.loss.tolist(),
            low=predicted.low.tolist(), high=predicted.high.tolist(),
        )  # fmt: skip

    async def PlanCompute(self, request: pb.PlanComputeRequest, context: Any) -> pb.PlanComputeResponse:
        k, width, fmt = plan_convert.plan_request(request)
        limits.check_count(request.budgets, "budgets", self.settings)
        budgets = list(request.budgets)
        check_budgets(budgets)  # bad budgets named before the store is read
        curve_id, record = await asyncio.to_thread(self.store.get_fit, request.fit_id)
        stored = convert.stored_fit_to_pb(record, curve_id)
        law = plan_law(stored.law, field="fit_id")  # a fit of a law without N and D: said here, naming the fit
        limits.check_plan(len(budgets), stored.n_bootstrap, law.name == "chinchilla", self.settings)
        samples = await asyncio.to_thread(self.store.get_fit_samples, request.fit_id)
        fit = replace(convert.fit_from_pb(stored), samples=samples)
        ((_, points),) = await self._curves([curve_id], "fit_id")
        planned = await self._compute(work.plan_compute, fit, points, budgets, k, width, fmt)
        return plan_convert.plan_to_pb(planned, stored, MEDIA_TYPES[fmt] if fmt else "")

    async def ListFits(self, request: pb.ListFitsRequest, context: Any) -> pb.ListFitsResponse:
        await asyncio.to_thread(self.store.get_curve, request.curve_id)  # NOT_FOUND for an unknown curve
        stored = await asyncio.to_thread(self.store.list_fits, request.curve_id)
        return pb.ListFitsResponse(fits=[convert.stored_fit_to_pb(f, request.curve_id) for f in stored])

    async def _comparison_inputs(
        self,
        baseline_id: str,
        candidate_ids: list[str],
        options: pb.FitOptions,
        horizons: Sequence[float],
        target_losses: Sequence[float],
        prefix: str = "",
    ) -> tuple[list[tuple[StoredCurve, CurvePoints]], fitting.FitOptions]:
        """What CompareCurves and a report of curves compare: the curves and the fit options,
        checked against the limits; `prefix` is where the request holds the curve ids."""
        fit_options = convert.fit_options(options, expression_params=False)
        if not baseline_id:
            raise InvalidInputError("no baseline curve id", field=f"{prefix}baseline_id")
        limits.check_count(horizons, "horizons", self.settings)
        limits.check_count(target_losses, "target_losses", self.settings)
        loaded = await self._comparison_curves(baseline_id, candidate_ids, f"{prefix}candidate_ids")
        points = _points_in_range(loaded, fit_options.x_min, fit_options.x_max)
        bootstrap = fit_options.bootstrap or limits.default_resamples(points, fit_options, self.settings)
        chosen = replace(fit_options, bootstrap=bootstrap)
        limits.check_resamples(points, chosen, "options.bootstrap", self.settings)
        return loaded, chosen

    async def CompareCurves(self, request: pb.CompareCurvesRequest, context: Any) -> pb.Comparison:
        candidate_ids = list(request.candidate_ids)
        loaded, options = await self._comparison_inputs(
            request.baseline_id, candidate_ids, request.options, request.horizons, request.target_losses
        )
        result = await self._compute(
            work.compare_curves,
            [p for _, p in loaded],
            [meta.meta.vocab_size for meta, _ in loaded],
            options,
            list(request.horizons) or None,
            list(request.target_losses),
            request.share_nothing,
        )
        return convert.comparison_to_pb(result, request.baseline_id, candidate_ids)

    async def BacktestLaws(self, request: pb.BacktestLawsRequest, context: Any) -> pb.BacktestLawsResponse:
        split_ids, pairs, laws, fractions, options = convert.backtest_request(request)
        limits.check_curve_ids(split_ids, "curve_ids", self.settings)
        ids = list(dict.fromkeys([*split_ids, *(cid for pair in pairs for cid in pair)]))
        loaded = dict(
            zip(ids, [p for _, p in await self._curves(ids, "curve_ids" if split_ids else "pairs")], strict=True)
        )
        in_range = {cid: limits.points_in_range(p.x, options.x_min, options.x_max) for cid, p in loaded.items()}
        fitted = sum(in_range[cid] for cid in split_ids) * len(fractions) + sum(in_range[a] for a, _ in pairs)
        limits.check_backtest_cost(fitted, len(laws), options.bootstrap, self.settings)
        result = await self._compute(work.backtest_curves, loaded, split_ids, pairs, laws, fractions, options)
        return convert.backtest_to_pb(result)

    # -- training jobs --------------------------------------------------------------------------

    async def StartTraining(self, request: pb.StartTrainingRequest, context: Any) -> pb.Job:
        limits.check_text(request.study, "study", self.settings)
        limits.check_text(request.request_id, "request_id", self.settings)
        # bad configuration: INVALID_ARGUMENT now, not later; too big: RESOURCE_EXHAUSTED now, not a
        # MemoryError later. Here, not in a worker: the configuration and its estimate load no torch.
        spec = limits.check_job(convert.spec_from_request(request), self.settings)
        await self.executor.check_device(spec.device)  # where the jobs run, not necessarily here
        # shielded: a caller that gives up (deadline, disconnect) after the job is stored must not
        # leave it stored but never submitted, which its retry (same request_id) would return for ever
        job = await asyncio.shield(self._create_and_submit(request, spec.to_dict()))
        return convert.job_to_pb(job)

    async def _create_and_submit(self, request: pb.StartTrainingRequest, spec: dict[str, Any]) -> JobRecord:
        # checked and counted with no await between, so concurrent calls cannot all pass the check
        waiting = self.executor.queued + self._admitting
        if waiting >= self.settings.max_queued_jobs:
            raise LimitExceededError(
                f"{waiting} jobs are waiting to run, the most max_queued_jobs allows; retry later", field="request"
            )
        self._admitting += 1
        try:
            return await self._admit(request, spec)
        finally:
            self._admitting -= 1

    async def _admit(self, request: pb.StartTrainingRequest, spec: dict[str, Any]) -> JobRecord:
        job, new = await asyncio.to_thread(
            self.store.create_job,
            request_id=request.request_id,
            study=request.study,
            spec=spec,
            request=request.SerializeToString(deterministic=True),
            owner=self.settings.replica_id,
            holder=self.executor.holder.token,  # under this server's lease from the start
        )
        if new:
            await self.executor.submit(job.id, spec)
        return job

    async def GetJob(self, request: pb.GetJobRequest, context: Any) -> pb.Job:
        return convert.job_to_pb(await asyncio.to_thread(self.store.get_job, request.id))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Any) -> pb.ListJobsResponse:
        state = convert.job_state_name(request.state) if request.state else ""
        jobs, token = await asyncio.to_thread(
            self.store.list_jobs,
            study=request.study,
            state=state,
            page_size=request.page_size,
            page_token=request.page_token,
            size_of=lambda j: _item_size(convert.job_to_pb(j)),
            max_bytes=limits.reply_budget(self.settings),
        )
        return pb.ListJobsResponse(jobs=[convert.job_to_pb(j) for j in jobs], next_page_token=token)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Any) -> pb.Job:
        await self.executor.cancel(request.id)
        return convert.job_to_pb(await asyncio.to_thread(self.store.get_job, request.id))

    async def WatchJob(self, request: pb.WatchJobRequest, context: Any) -> AsyncIterator[pb.JobEvent]:
        seen = request.after_seq
        while True:
            job = await asyncio.to_thread(self.store.get_job, request.job_id)
            for event in await asyncio.to_thread(self.store.job_events, request.job_id, seen):
                seen = event.seq
                yield convert.event_to_pb(request.job_id, event)
            if job.done:
                return
            await self.executor.wait_for_change(request.job_id)

    # -- reports --------------------------------------------------------------------------------

    async def RenderReport(self, request: pb.RenderReportRequest, context: Any) -> pb.Report:
        fmt = convert.report_format(request.format)
        if request.HasField("job_id"):
            content = await self._job_report(request, fmt)
        elif request.HasField("curves"):
            candidate_ids = list(request.curves.candidate_ids)
            loaded, options = await self._comparison_inputs(
                request.curves.baseline_id, candidate_ids, request.options, (), request.target_losses, "curves."
            )
            content = await self._compute(
                work.render_curves_report,
                [p for _, p in loaded],
                _labels(loaded),
                [request.curves.baseline_id, *candidate_ids],
                [meta.meta.vocab_size for meta, _ in loaded],
                options,
                list(request.target_losses),
                fmt=fmt,
                share_nothing=request.share_nothing,
            )
        else:
            raise InvalidInputError("give curves or a job_id", field="subject")
        return pb.Report(content=content, media_type=MEDIA_TYPES[fmt])

    async def _job_report(self, request: pb.RenderReportRequest, fmt: str) -> bytes:
        """The comparison the job stored, drawn: never a new one, which could disagree with it."""
        asked = {
            "options.x_min": request.options.HasField("x_min"),
            "options.bootstrap": request.options.bootstrap,
            "target_losses": request.target_losses,
        }
        for field, given in asked.items():
            if given:
                raise InvalidInputError(
                    "a job's report draws the comparison the job stored, with the job's own x_min and "
                    "resamples: leave it unset, or report the job's test curves as curves",
                    field=field,
                )
        job = await asyncio.to_thread(self.store.get_job, request.job_id)
        compared = convert.job_comparison(job)
        if compared is None:
            raise FitImpossibleError(f"job {job.id} is {job.state}: it has no comparison to report", field="job_id")
        loaded = await self._curves([compared.baseline_id, *compared.candidate_ids], "job_id")
        stored = stored_result(job)
        # where the job's fits started, as its outcome records it; rows stored before outcomes were typed
        # predate fit_start_share, so their start is fit_x_min or T / 10
        legacy = job.spec.get("fit_x_min") or max(1, int(job.spec["steps"]) // 10)
        x_min = float(stored.outcome.fit_from if stored is not None else legacy)
        settings = html.job_settings(job.id, job.state, job.study, job.spec, x_min, int(job.spec["bootstrap"]))
        return await self._compute(
            work.render_job_report,
            [p for _, p in loaded],
            _labels(loaded),
            compared,
            fmt=fmt,
            x_min=x_min,
            job_outcome=None if stored is None else stored.outcome,  # None: stored before outcomes were typed
            settings=settings,
        )


async def _until_idle(messages: AsyncIterator[T], idle_seconds: float) -> AsyncIterator[T]:
    """The stream's messages; a stream silent for idle_seconds ends with RESOURCE_EXHAUSTED, so a
    client that opens an upload and sends nothing cannot hold its slot for ever."""
    iterator = aiter(messages)
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                message = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise LimitExceededError(
                f"no message for {idle_seconds:g} s (upload_idle_seconds): the upload ended and stored nothing",
                field="chunk",
            ) from None
        yield message


def _labels(loaded: list[tuple[StoredCurve, CurvePoints]]) -> list[str]:
    """What a report calls each curve: its policy, else its name, else its id (as
    service/result_tables.py's curve_label, so a report and the CLI's tables agree)."""
    return [meta.meta.policy or meta.meta.name or meta.id for meta, _ in loaded]


def _points_in_range(
    loaded: list[tuple[StoredCurve, CurvePoints]], x_min: float | None, x_max: float | None = None
) -> list[int]:
    """Points the request fits, per curve: those within its fitting range."""
    return [limits.points_in_range(p.x, x_min, x_max) for _, p in loaded]


def _item_size(message: Any) -> int:
    """Bytes one item adds to a repeated field: the message, its tag and its length prefix."""
    return int(message.ByteSize()) + 11
