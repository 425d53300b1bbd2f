"""True k-fold train/validation splits (the original drew overlapping random splits, reference-spec §3.6).

* classification: stratified — the indices of each class are shuffled (seeded) and dealt
  round-robin to the folds, continuing the deal across classes so fold sizes differ by at most one;
* segmentation: one seeded permutation cut into ``k`` near-equal folds.

Every index is in exactly one validation fold; fold ``i`` trains on all other indices.
File format (JSON): ``{"k": k, "seed": seed, "kind": kind, "n": N, "folds": [{"train": [...], "val": [...]}, ...]}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lens2logit.data.dataset import KINDS
from lens2logit.errors import InputError
from lens2logit.io import write_json


def _validate(targets: Any, k: int, kind: str) -> int:
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r} (option 'kind'); expected one of {KINDS}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise InputError(f"k-fold needs k >= 2 (option 'k'), got {k!r}")
    n = len(targets)
    if n < k:
        raise InputError(f"cannot make {k} folds from {n} samples (option 'k')")
    return n


def fold_seed(seed: int, fold: int) -> int:
    """The seed of fold ``fold``'s model in a run with seed ``seed``: its initial weights, shuffling and
    augmentation draws.

    Each fold's model gets its own random stream, as in the original, which seeds once per run and then
    builds the folds' models one after the other; so resampling folds also samples initialisations. A
    hash of the pair (NumPy's ``SeedSequence``), not ``seed + fold``: fold 1 of seed 1 and fold 0 of seed 2
    must not start from the same weights.
    """
    return int(np.random.SeedSequence([int(seed), int(fold)]).generate_state(1)[0])


def make_folds(targets: Sequence | np.ndarray, k: int, seed: int, kind: str) -> list[dict[str, list[int]]]:
    """Partition ``range(N)`` into ``k`` validation folds.

    Args:
        targets: ``(N,)`` class labels (classification) or anything of length ``N``
            (segmentation: only the length is used, e.g. the ``(N, H, W)`` masks).
        k: number of folds, ``>= 2``.
        seed: RNG seed; the same seed gives the same folds.
        kind: ``"classification"`` (stratified) or ``"segmentation"``.

    Returns:
        ``k`` dicts ``{"train": sorted indices, "val": sorted indices}``.

    Example:
        >>> folds = make_folds([0, 0, 1, 1], 2, seed=0, kind="classification")
        >>> sorted(i for f in folds for i in f["val"])
        [0, 1, 2, 3]
    """
    n = _validate(targets, k, kind)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=np.int64)
    if kind == "classification":
        labels = np.asarray(targets).reshape(n)
        offset = 0
        for label in np.unique(labels):  # sorted: class order does not depend on input order
            members = rng.permutation(np.flatnonzero(labels == label))
            fold_of[members] = (offset + np.arange(members.size)) % k
            offset = (offset + members.size) % k
    else:
        fold_of[rng.permutation(n)] = np.arange(n) % k
    everything = np.arange(n)
    return [{"train": everything[fold_of != i].tolist(), "val": everything[fold_of == i].tolist()} for i in range(k)]


def save_folds(
    path: str | os.PathLike,
    folds: list[dict[str, list[int]]],
    *,
    k: int | None = None,
    seed: int | None = None,
    kind: str | None = None,
) -> None:
    """Write folds as JSON atomically (format in the module docstring)."""
    n = len(folds[0]["train"]) + len(folds[0]["val"]) if folds else 0
    write_json(
        path,
        {
            "k": len(folds) if k is None else int(k),
            "seed": seed,
            "kind": kind,
            "n": n,
            "folds": [{"train": [int(i) for i in f["train"]], "val": [int(i) for i in f["val"]]} for f in folds],
        },
    )


def load_folds(path: str | os.PathLike) -> list[dict[str, list[int]]]:
    """Read folds written by :func:`save_folds` (or any ``{"folds": [{"train", "val"}]}`` JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"folds file not found: {path}")
    try:
        data = json.loads(path.read_text())
        folds = data["folds"]
        result = [{"train": [int(i) for i in f["train"]], "val": [int(i) for i in f["val"]]} for f in folds]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"folds file {path} is not valid ({exc.__class__.__name__}: {exc}); expected {{'folds': [{{'train': [...], 'val': [...]}}]}}"
        ) from exc
    if not result:
        raise InputError(f"folds file {path} holds no folds")
    return result


def get_fold(path: str | os.PathLike, fold: int) -> dict[str, list[int]]:
    """Fold ``fold`` of the folds file ``path``; InputError if out of range."""
    folds = load_folds(path)
    if not isinstance(fold, (int, np.integer)) or not 0 <= fold < len(folds):
        raise InputError(f"fold {fold!r} out of range for {path} ({len(folds)} folds)")
    return folds[int(fold)]
