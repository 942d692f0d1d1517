"""Finding and following training jobs from the CLI: `scalinglaw jobs [ID] [--watch|--cancel]`
and the progress bar of `train --watch`.

Ctrl-C while watching detaches: the job belongs to the server and keeps running, so the CLI says
so and prints the commands that pick it up again, rather than a traceback that suggests the job
died with the terminal.
"""

from __future__ import annotations

import argparse
import sys

from service import client as c
from service.formatting import percent
from service.result_tables import jobs_table, to_text

DETACHED = 130  # the shell's code for "ended by SIGINT", so scripts can tell a detach from success
_BAR = 30  # characters of the progress bar


def follow(client: c.ScalingLawClient, job_id: str, args: argparse.Namespace) -> c.JobInfo | None:
    """A progress bar on stderr until the job ends; the finished job, or None after Ctrl-C (the
    job keeps running on the server and the commands to watch or cancel it are printed)."""
    try:
        # inside the try: the reader can see this line and send Ctrl-C before print() returns
        print(f"watching job {job_id} (Ctrl-C detaches; the job keeps running)", file=sys.stderr, flush=True)
        replica = None
        for event in client.watch(job_id):
            if replica is not None and event.replica != replica:  # another replica took the job over
                print(f"\n{event.message}", file=sys.stderr)
            replica = event.replica
            bar = "#" * int(_BAR * event.progress)
            print(f"\r[{bar:<{_BAR}}] {percent(event.progress):>4} {event.message[:50]:<50}", end="", file=sys.stderr)
        print(file=sys.stderr)
        return client.get_job(job_id)
    except KeyboardInterrupt:
        print(detach_message(job_id, args), file=sys.stderr)
        return None


def detach_message(job_id: str, args: argparse.Namespace) -> str:
    prefix = _command_prefix(args)
    return (
        f"\ndetached: job {job_id} keeps running on the server\n"
        f"  watch it:   {prefix} jobs {job_id} --watch\n"
        f"  cancel it:  {prefix} jobs {job_id} --cancel"
    )


def _command_prefix(args: argparse.Namespace) -> str:
    """`scalinglaw` with the connection flags given, so the printed commands reach the same server
    (the token is left out: it is secret, and SCALINGLAW_TOKEN supplies it)."""
    words = ["scalinglaw"]
    if getattr(args, "target", None):
        words += ["--target", args.target]
    if getattr(args, "ca_cert", None):
        words += ["--ca-cert", str(args.ca_cert)]
    return " ".join(words)


def list_jobs(client: c.ScalingLawClient, args: argparse.Namespace) -> list[c.JobInfo]:
    return client.list_jobs(study=args.study, state=args.state or "")


def print_jobs(jobs: list[c.JobInfo]) -> None:
    if not jobs:
        print("no jobs")
        return
    print(to_text(jobs_table(jobs), titled=False))
