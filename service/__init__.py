"""service: scalinglaw as a gRPC service, and the tools that talk to it. Three rooms, each for one
process, and what they share:

    server/     runs in `scalinglaw serve`: the servicer, store, limits, workers, jobs, reports
    client/     runs in the user's process: ScalingLawClient, its errors, log importers
    cli/        the `scalinglaw` command, a thin layer over the client
    settings.py, wire.py, formatting.py, models.py, result_tables.py, report_formats.py,
    healthcheck.py: shared by more than one room

client/ and server/ never import each other; docs/architecture.md follows one RPC through them.
README, "The service", describes the API; docs/clients.md calls it from other languages.
"""
