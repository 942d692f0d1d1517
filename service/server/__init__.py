"""The server: everything that runs in the `scalinglaw serve` process and its workers.

    serve.py        the entry point (`scalinglaw serve`, `python -m service.server`): signals, drain
    server.py       the grpc.aio server factory: interceptors, health, reflection, TLS
    servicer.py     the RPCs, thin: limits, store and workers wired behind the proto
    convert.py      the only place protobuf meets domain types
    errors.py       the one table from domain errors to status codes
    limits.py       what one request may cost, checked before the work starts
    upload.py       a streamed upload assembled and checked chunk by chunk
    compute.py      the pool of worker processes for user-shaped work
    worker_tasks.py what a worker does: fits, comparisons, reports
    store/          SQLite or PostgreSQL
    jobs/           training jobs: the executor interface, the local and Ray executors, leases, stored results
    reports/        reports: figures and the HTML page

Nothing here imports service/client/ or service/cli/ (tests/test_layout.py checks it).
"""
