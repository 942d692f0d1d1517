"""service: scalinglaw as a gRPC service, and the tools that talk to it.

The server (server.py, servicer.py) with its store (store/: SQLite or PostgreSQL), request limits
(limits.py), fit and report workers (compute.py) and job executors (local or Ray); the one place
protobuf meets domain types (convert.py) and the one error table (errors.py); report figures and
the HTML report; the Python client (client.py) and the `scalinglaw` CLI (cli.py and its helpers:
tables, formatting, jobs, completion). README, "The service", describes the API; docs/clients.md
calls it from other languages.
"""
