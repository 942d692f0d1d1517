"""The executor SCALINGLAW_EXECUTOR names. Kept apart from service/server/jobs/base.py (the interface the
executors implement), so the interface imports none of its implementations."""

from __future__ import annotations

from service.server.jobs.base import JobExecutor
from service.server.jobs.leases import LeasePolicy
from service.server.jobs.local_executor import LocalExecutor
from service.server.store import Store
from service.settings import Settings


def make_executor(settings: Settings, store: Store) -> JobExecutor:
    """Ray is imported only when it is chosen."""
    lease = LeasePolicy(settings.lease_renew_seconds, settings.lease_seconds, settings.job_retries)
    if settings.executor == "ray":
        try:
            from service.server.jobs.ray_executor import RayExecutor
        except ModuleNotFoundError as exc:
            if exc.name != "ray":
                raise
            raise RuntimeError("SCALINGLAW_EXECUTOR=ray needs Ray: pip install 'scalinglaw[ray]'") from exc
        return RayExecutor(store, settings.max_jobs, settings.replica_id, lease, address=settings.ray_address)
    return LocalExecutor(store, settings.max_jobs, settings.replica_id, lease)
