"""Glue for the Snakemake scripts: per-job logging and thread limits.

Scripts under ``scripts/`` stay a few lines: ``with job(snakemake): library_function(...)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from typing import Iterator


@contextlib.contextmanager
def job(snakemake, *, threads: int | None = None) -> Iterator[None]:
    """Send the job's stdout/stderr and logging to its ``log:`` file and cap torch threads.

    A failure is logged with its traceback and re-raised, so Snakemake marks the job failed
    and removes its (incomplete) outputs.
    """
    n_threads = threads or getattr(snakemake, "threads", 1) or 1
    # Before torch is imported, the env var is what sizes its thread pool.
    os.environ["OMP_NUM_THREADS"] = str(n_threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log_path = snakemake.log[0] if len(snakemake.log) else None
    with contextlib.ExitStack() as stack:
        if log_path:
            os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
            fh = stack.enter_context(open(log_path, "w", buffering=1))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
            logging.basicConfig(stream=fh, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(n_threads)
        try:
            yield
        except BaseException:
            traceback.print_exc()
            raise
