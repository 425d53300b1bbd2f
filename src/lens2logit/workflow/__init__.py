"""The workflow's glue: :mod:`.config` (plan-time checks of the config), :mod:`.plan` (which jobs
and files a config means), :mod:`.codehash` (the code a job ran, for reruns), :mod:`.stale_lock`
(resuming after a killed Snakemake), and here :func:`job`: per-job logging, thread limits and the
clean-up of temporary files that a killed earlier run left, for the scripts under ``scripts/``,
which stay a few lines: ``with job(snakemake): library_function(...)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from typing import Iterator

from lens2logit.errors import InputError
from lens2logit.io import stale_temporaries

log = logging.getLogger(__name__)


@contextlib.contextmanager
def job(snakemake, *, threads: int | None = None) -> Iterator[None]:
    """Send the job's stdout/stderr and logging to its ``log:`` file and cap torch threads.

    A failure is logged with its traceback and re-raised, so Snakemake marks the job failed
    and removes its (incomplete) outputs. An ``InputError`` (bad user input) reaches the console
    as one line naming the file/option (the traceback stays in the log) and exits with status 2.
    """
    n_threads = threads or getattr(snakemake, "threads", 1) or 1
    # Before torch is imported, the env var is what sizes its thread pool.
    os.environ["OMP_NUM_THREADS"] = str(n_threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log_path = snakemake.log[0] if len(snakemake.log) else None
    user_error = None
    console = sys.stderr  # Snakemake's output: warnings are shown there as well as in the log
    with contextlib.ExitStack() as stack:
        if log_path:
            os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
            fh = stack.enter_context(open(log_path, "w", buffering=1))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
            logging.basicConfig(stream=fh, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
            logging.getLogger().addHandler(console_warnings(console))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(n_threads)
        try:
            remove_stale_temporaries(getattr(snakemake, "output", ()))  # inside: a failure here is logged too
            yield
        except InputError as exc:
            traceback.print_exc()  # the log keeps the traceback for developers
            user_error = exc
        except BaseException:
            traceback.print_exc()
            raise
    if user_error is not None:
        # The console gets one line naming the file/option; exit status 2 as the CLI's user errors.
        where = f" (traceback: {log_path})" if log_path else ""
        print(f"lens2logit: error: {one_line(user_error)}{where}", file=sys.stderr, flush=True)
        raise SystemExit(2)


def remove_stale_temporaries(outputs) -> None:
    """Delete the temporary files a killed earlier run of this job left beside its outputs.

    Safe here: Snakemake runs one job per output at a time, so no live writer owns them.
    """
    for output in outputs:
        for stale in stale_temporaries(output):
            log.info("removing %s, left by a killed earlier run of this job", stale)
            stale.unlink(missing_ok=True)


def console_warnings(stream) -> logging.Handler:
    """A logging handler writing WARNING and above to ``stream`` as ``lens2logit: warning: …`` lines."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("lens2logit: warning: %(message)s"))
    return handler


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
