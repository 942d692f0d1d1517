"""protos: the API contract, scalinglaw/v1/scalinglaw.proto (package scalinglaw.v1), and the Python
code generated from it beside the file (`make protos`, protos/generate.py). Only service/ imports
the generated code; it is never edited by hand, and tests/test_protos.py fails when it is stale.
"""
