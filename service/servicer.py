"""ScalingLawService: thin wiring of the store and fitting/ behind the proto. No maths here, and
no try/except: domain errors reach the interceptor (service/server.py), which maps them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import fitting
from fitting.errors import FitImpossibleError, InvalidInputError, LimitExceededError
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service import convert, wire
from service.compute import ComputePool
from service.jobs import JobExecutor
from service.report import MEDIA_TYPES, LabelledCurve, render
from service.settings import Settings
from service.store import CurvePoints, JobRecord, Store
from service.upload import UploadAssembler, UploadSlots

T = TypeVar("T")
_CANCEL_TURNS = 3  # event-loop turns an upload waits for a pending cancellation before committing


class ScalingLawServicer(pb_grpc.ScalingLawServiceServicer):
    def __init__(self, settings: Settings, store: Store, executor: JobExecutor):
        self.settings = settings
        self.store = store
        self.executor = executor
        # user-shaped maths runs in worker processes (service/compute.py): never on the event loop's
        # GIL, and a call whose caller gave up stops
        self.compute = ComputePool(settings.fit_workers, memory_bytes=settings.fit_memory_bytes)
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
            async for message in request_iterator:
                if message.HasField("header"):
                    if assembler is not None:
                        raise InvalidInputError("a second header arrived", field="header")
                    assembler = UploadAssembler(
                        convert.meta_from_header(message.header),
                        max_points=self.settings.max_points,
                        expected_points=message.header.expected_points,
                        reserve=reserve,
                    )
                elif message.HasField("chunk"):
                    if assembler is None:
                        raise InvalidInputError("the first message must be the header", field="header")
                    chunk = message.chunk
                    assembler.add(chunk.x, chunk.loss, {c.name: c.values for c in chunk.columns})
            if assembler is None:
                raise InvalidInputError("no header: the stream was empty", field="header")
            points = assembler.finish()
            # grpc.aio ends the request stream of a call the client cancelled as if it had finished,
            # and cancels this task one loop turn later (measured: ~0.05 ms). Yield before the
            # commit so a cancelled stream without header.expected_points stores nothing.
            for _ in range(_CANCEL_TURNS):
                await asyncio.sleep(0)
            stored = await asyncio.to_thread(self.store.insert_curve, assembler.meta, points)
        return convert.curve_to_pb(stored)

    async def GetCurve(self, request: pb.GetCurveRequest, context: Any) -> pb.Curve:
        return convert.curve_to_pb(await asyncio.to_thread(self.store.get_curve, request.id))

    async def ListCurves(self, request: pb.ListCurvesRequest, context: Any) -> pb.ListCurvesResponse:
        curves, token = await asyncio.to_thread(
            self.store.list_curves,
            study=request.study,
            policy=request.policy,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListCurvesResponse(curves=[convert.curve_to_pb(c) for c in curves], next_page_token=token)

    async def DeleteCurve(self, request: pb.DeleteCurveRequest, context: Any) -> pb.DeleteCurveResponse:
        await asyncio.to_thread(self.store.delete_curve, request.id)
        return pb.DeleteCurveResponse()

    async def ReadCurvePoints(self, request: pb.ReadCurvePointsRequest, context: Any) -> AsyncIterator[pb.PointsChunk]:
        if request.chunk_size < 0:
            raise InvalidInputError(f"must be >= 0, got {request.chunk_size}", field="chunk_size")
        points = await asyncio.to_thread(self.store.read_points, request.id)
        size = request.chunk_size or self.settings.chunk_points
        for start in range(0, points.x.size, size):
            sl = slice(start, start + size)
            if not points.columns:  # the common case goes out as pre-built bytes
                yield wire.points_chunk(points.x[sl], points.loss[sl])  # type: ignore[misc]
                continue
            columns = [pb.NamedColumn(name=k, values=v[sl]) for k, v in points.columns.items()]
            yield pb.PointsChunk(x=points.x[sl], loss=points.loss[sl], columns=columns)

    # -- fits -----------------------------------------------------------------------------------

    async def _curves(self, ids: list[str], field: str) -> list[tuple[Any, CurvePoints]]:
        if not ids:
            raise InvalidInputError("no curve ids given", field=field)
        out = []
        for cid in ids:
            meta = await asyncio.to_thread(self.store.get_curve, cid)
            out.append((meta, await asyncio.to_thread(self.store.read_points, cid)))
        return out

    def _check_bootstrap(self, options: pb.FitOptions) -> None:
        if options.bootstrap > self.settings.max_bootstrap:  # memory grows with resamples x points
            raise LimitExceededError(
                f"{options.bootstrap} resamples asked; max_bootstrap is {self.settings.max_bootstrap}",
                field="options.bootstrap",
            )

    async def FitCurves(self, request: pb.FitCurvesRequest, context: Any) -> pb.FitCurvesResponse:
        self._check_bootstrap(request.options)
        kwargs = convert.fit_kwargs(request.options)
        law = fitting.get_law(kwargs["law"]) if not kwargs.get("bounds") and not kwargs.get("starts") else None
        loaded = await self._curves(list(request.curve_ids), "curve_ids")
        pairs = [(_inputs(points, law), points.loss) for _, points in loaded]
        shared = list(request.options.shared)
        if shared and len(pairs) > 1:
            fits = await self._compute(fitting.fit_joint, pairs, shared=shared, **kwargs)
        elif len(pairs) == 1:
            x, loss = pairs[0]
            fits = [await self._compute(fitting.fit_curve, x, loss, **kwargs)]
        else:
            fits = await self._compute(fitting.fit_batch, pairs, **kwargs)
        options = {**kwargs, "shared": shared}
        rows = [(cid, options, fit.to_dict()) for cid, fit in zip(request.curve_ids, fits, strict=True)]
        fit_ids = await asyncio.to_thread(self.store.save_fits, rows)  # all of the request's fits, or none
        return pb.FitCurvesResponse(
            fits=[
                convert.fit_to_pb(fit, cid, fid) for cid, fit, fid in zip(request.curve_ids, fits, fit_ids, strict=True)
            ]
        )

    async def ListFits(self, request: pb.ListFitsRequest, context: Any) -> pb.ListFitsResponse:
        await asyncio.to_thread(self.store.get_curve, request.curve_id)  # NOT_FOUND for an unknown curve
        stored = await asyncio.to_thread(self.store.list_fits, request.curve_id)
        return pb.ListFitsResponse(fits=[convert.stored_fit_to_pb(f, request.curve_id) for f in stored])

    async def CompareCurves(self, request: pb.CompareCurvesRequest, context: Any) -> pb.Comparison:
        self._check_bootstrap(request.options)
        kwargs = convert.fit_kwargs(request.options)
        kwargs.pop("bounds", None)
        kwargs.pop("starts", None)
        if not request.baseline_id:
            raise InvalidInputError("no baseline curve id", field="baseline_id")
        loaded = await self._curves([request.baseline_id, *request.candidate_ids], "candidate_ids")
        if len(loaded) < 2:
            raise InvalidInputError("no candidate curve ids", field="candidate_ids")
        law = fitting.get_law(kwargs["law"])
        shared = list(request.options.shared) or (["L0"] if "L0" in law.param_names else [])
        result = await self._compute(
            fitting.compare_curves,
            (_inputs(loaded[0][1], law), loaded[0][1].loss),
            [(_inputs(points, law), points.loss) for _, points in loaded[1:]],
            shared=shared,
            horizons=list(request.horizons) or None,
            target_losses=list(request.target_losses),
            vocab_sizes=[meta.meta.vocab_size for meta, _ in loaded],
            **{**kwargs, "bootstrap": kwargs["bootstrap"] or 200},
        )
        return convert.comparison_to_pb(result, request.baseline_id, list(request.candidate_ids))

    # -- training jobs --------------------------------------------------------------------------

    async def StartTraining(self, request: pb.StartTrainingRequest, context: Any) -> pb.Job:
        spec = convert.spec_dict_from_request(request)
        # bad configuration: INVALID_ARGUMENT now, not later; in a thread, as the first call imports
        # torch (seconds) and the event loop must keep serving meanwhile
        device = await asyncio.to_thread(_checked_device, spec)
        await self.executor.check_device(device)  # where the jobs run, not necessarily here
        # shielded: a caller that gives up (deadline, disconnect) after the job is stored must not
        # leave it stored but never submitted, which its retry (same request_id) would return for ever
        job = await asyncio.shield(self._create_and_submit(request, spec))
        return convert.job_to_pb(job)

    async def _create_and_submit(self, request: pb.StartTrainingRequest, spec: dict[str, Any]) -> JobRecord:
        job, new = await asyncio.to_thread(
            self.store.create_job,
            request_id=request.request_id,
            study=request.study,
            spec=spec,
            request=request.SerializeToString(deterministic=True),
            owner=self.settings.replica_id,
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
        self._check_bootstrap(request.options)
        fmt = convert.report_format(request.format)
        summary = None
        if request.HasField("job_id"):
            job = await asyncio.to_thread(self.store.get_job, request.job_id)
            if job.result is None or "optimal/test" not in job.result["curve_ids"]:
                raise FitImpossibleError("the job has no finished near-optimal run to report", field="job_id")
            ids = job.result["curve_ids"]
            baseline_id, candidate_ids = ids["conventional/test"], [ids["optimal/test"]]
            summary = job.result["summary"]
            x_min: float | None = float(job.spec.get("fit_x_min") or max(1, int(job.spec["steps"]) // 10))
        elif request.HasField("curves"):
            baseline_id, candidate_ids = request.curves.baseline_id, list(request.curves.candidate_ids)
            x_min = request.options.x_min if request.options.HasField("x_min") else None
        else:
            raise InvalidInputError("give curves or a job_id", field="subject")
        loaded = await self._curves([baseline_id, *candidate_ids], "curves")
        if len(loaded) < 2:
            raise InvalidInputError("no candidate curve ids", field="curves.candidate_ids")
        comparison = await self._compute(
            fitting.compare_curves,
            (loaded[0][1].x, loaded[0][1].loss),
            [(p.x, p.loss) for _, p in loaded[1:]],
            x_min=x_min,
            bootstrap=request.options.bootstrap or 200,
            vocab_sizes=[meta.meta.vocab_size for meta, _ in loaded],
        )
        curves = [LabelledCurve(meta.meta.policy or meta.meta.name or meta.id, p.x, p.loss) for meta, p in loaded]
        content = await self._compute(render, curves, comparison, fmt=fmt, job_summary=summary)
        return pb.Report(content=content, media_type=MEDIA_TYPES[fmt])


def _checked_device(spec: dict[str, Any]) -> str:
    from trainers.config import RunSpec

    return RunSpec.from_dict(spec).validate().device


def _inputs(points: CurvePoints, law: fitting.Law | None) -> Any:
    """x, or the named input columns a multi-input law needs."""
    if law is not None and len(law.inputs) > 1:
        return {name: points.columns[name] for name in law.inputs if name in points.columns}
    return points.x
