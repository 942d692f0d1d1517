"""`scalinglaw serve`: the server entry point (logging handlers live here and in the CLI only).

On SIGTERM or SIGINT, health turns NOT_SERVING, running jobs are stopped and marked FAILED
("interrupted"), in-flight calls get `grace_seconds` to finish, then the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from grpc_health.v1 import health_pb2

from service.server.server import SERVICE_NAME, create_server
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
    # jobs end first (FAILED "interrupted"), so their watchers get a last event and finish cleanly
    # within the grace period instead of being cut off
    await parts.executor.stop()
    await server.stop(grace=settings.grace_seconds)
    await parts.close()


def main(settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(settings or Settings()))


if __name__ == "__main__":
    main()
