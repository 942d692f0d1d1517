"""`scalinglaw serve`: the server entry point (logging handlers live here and in the CLI only).

On SIGTERM or SIGINT, health turns NOT_SERVING and the jobs are handed back at once (about a second):
running ones are stopped and marked FAILED ("interrupted", naming this replica), or put back in the
queue for a restart from the start while SCALINGLAW_JOB_RETRIES allows; queued ones go back to the
queue, where another replica sharing the database starts them (or this one, when it starts again).
Then in-flight calls get `grace_seconds` to finish and the server stops. A container's stop timeout
must exceed grace_seconds by a few seconds (the image sets 7 s, inside the engines' default 10 s).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from grpc_health.v1 import health_pb2

from service.server.jobs.leases import ReplicaIdInUse
from service.server.server import SERVICE_NAME, create_server
from service.server.store import DatabaseUrlError
from service.settings import Settings

logger = logging.getLogger(__name__)


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    server, port, parts = await create_server(settings)
    await server.start()
    logger.info("scalinglaw serving on %s:%d (data in %s)", settings.host, port, settings.data_dir)
    print(f"scalinglaw listening on {settings.host}:{port}", flush=True)
    warming = asyncio.create_task(parts.servicer.compute.warm())  # fit workers start in the background
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    warming.cancel()
    logger.info("draining: health NOT_SERVING, %.1f s grace", settings.grace_seconds)
    for name in (SERVICE_NAME, ""):
        await parts.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    # jobs are handed back first, so their watchers get the event and other replicas take the queued
    # ones at once, not when this server's lease would have expired
    await parts.executor.stop()
    await server.stop(grace=settings.grace_seconds)
    await parts.close()


def main(settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(settings or Settings()))
    except (DatabaseUrlError, ReplicaIdInUse) as exc:  # a setting to fix: its message, not a traceback
        print(f"scalinglaw serve: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
