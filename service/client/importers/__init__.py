"""Loss curves read from the logs researchers already have, before they are uploaded:

    table_files.py       CSV, TSV, Parquet, JSON and JSON-lines files; long (one loss column) or
                         wide (one column per run, as W&B and MLflow export them)
    tensorboard_logs.py  scalar tags of TensorBoard event files (the `tensorboard` extra)
    mlflow_runs.py       metric histories of MLflow runs (the `mlflow` extra)
    curves.py            LogCurve, the checks every reader's output passes (errors name the file
                         and the row), and LogReadError

Nothing here talks to the server: service/client/log_upload.py uploads what these return. Errors are
LogReadError with our own words; a foreign reader's exception text never reaches the caller.
"""

from service.client.importers.curves import LogCurve, LogReadError

__all__ = ["LogCurve", "LogReadError"]
