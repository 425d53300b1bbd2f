"""Where the lab log lives: tracking URI, default SQLite store, experiment names, reachability."""

from __future__ import annotations

import os
from pathlib import Path

from lens2logit.errors import InputError

# Experiment names of the paper's virtual lab log (reference-spec §7).
TRAIN_EXPERIMENT = "1 Controlled synthesis of hardware-drift test cases (Train)"
TEST_EXPERIMENT = "1 Controlled synthesis of hardware-drift test cases (Test)"
FORENSICS_EXPERIMENT = "2 Modular hardware-drift forensics"
CUSTOMIZATION_EXPERIMENTS = {
    "microscopy": "3 Image processing customization (Microscopy)",
    "drone": "3 Image processing customization (Drone)",
}
EXPERIMENTS = (TRAIN_EXPERIMENT, TEST_EXPERIMENT, FORENSICS_EXPERIMENT, *CUSTOMIZATION_EXPERIMENTS.values())

STORE_DIR = "mlflow"  # under the results folder
DB_NAME = "mlflow.db"
HEALTH_TIMEOUT_S = 5.0


def store_dir(results: str | os.PathLike = "results") -> Path:
    return Path(results) / STORE_DIR


def default_tracking_uri(results: str | os.PathLike = "results") -> str:
    """``sqlite:///<abs results>/mlflow/mlflow.db``: the embedded default, no server needed."""
    return f"sqlite:///{(store_dir(results) / DB_NAME).resolve()}"


def resolve_tracking_uri(configured: str | None = None, results: str | os.PathLike = "results") -> str:
    """Config ``tracking.uri`` if set, else ``$MLFLOW_TRACKING_URI``, else the SQLite default."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(results)


def is_local_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:///")


def sqlite_path(uri: str) -> Path:
    """File of a ``sqlite:///PATH`` URI (relative paths are relative to the working directory)."""
    if not is_local_sqlite(uri):
        raise InputError(f"tracking URI {uri!r} is not a local SQLite store (sqlite:///PATH)")
    return Path(uri[len("sqlite:///") :])


def check_reachable(uri: str, what: str = "tracking.uri / MLFLOW_TRACKING_URI") -> None:
    """For an ``http(s)://`` tracking server, GET ``/health`` once; InputError naming the URI if it fails.

    Local stores (``sqlite:///``, file paths) need no check.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S)
        ok = response.status_code == 200
        detail = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok, detail = False, type(exc).__name__
    if not ok:
        raise InputError(f"MLflow tracking server {uri} ({what}) is unreachable: {detail}")
