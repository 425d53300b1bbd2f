"""Drift forensics (paper §5.2): which ISP parameters can a small change turn against a task model?

For a task model trained on the static view ``bi,s,ga`` (equal to the initial output of the
:class:`~lens2logit.isp.parametrized.ParametrizedISP`), each parameter group of the ISP — and all
groups together — is optimised to *raise* the frozen model's task loss while staying close to
the reference ISP's output:

    minimise over θ_group   L(θ) = −task_loss(f(P_θ(x)), y) + λ · R(P_θ₀(x), P_θ(x)),

R = mean squared error (``mse``) or ``1 − SSIM`` (``ssim``). Fixed against the paper code
(reference-spec §6, 14 and 19): R is a mean with the right sign for SSIM, and the reference ISP
P_θ₀ is a separate frozen copy, never a submodule of what is optimised.

The attack is fitted on a fold's training indices; the frozen model's metric is then measured
on the fold's validation indices through the adversarial ISP (and through the reference ISP:
group ``none``).

Units of λ: the paper's L2 regulariser was a *sum* over its batch of 4 images of 3 × 256 × 256
values, ours a mean, so λ_ours = λ_paper · 4 · 3 · 256 · 256 (:func:`lambda_from_paper`; the
paper's λ = 0.1 is 78,643.2 here). The table carries both (``lambda``, ``lambda_paper``).

Step sizes: with ``step_scale: magnitude`` (default) each group is optimised as ``θ = s · φ``
(:class:`~lens2logit.isp.parametrized.ScaledGroups`, ``s`` from
:func:`~lens2logit.isp.parametrized.magnitude_scales`), so ``lr`` is the fraction of each group's
magnitude Adam moves per step and the ranking of groups does not depend on their units;
``none`` is the paper's plain Adam (every parameter moves by about ``lr`` per step).

Groups: ``all`` is the processor's parameters (the paper's ``all``), ``additive`` (a free
(3, H, W) image, the paper's ``--adv_noise_layer``) is a group of its own, and ``demosaic`` (the
debayer kernel alone) is our extension: the paper moved it only under ``all``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lens2logit.errors import InputError
from lens2logit.training.options import CONTEXT_KEYS, context_settings, raise_problems
from lens2logit.schema import section_with_defaults
from lens2logit.training.ssim import REGULARIZERS, get_regularizer, mse_distance, ssim_distance
from lens2logit.statistics import fold_summary, headline_metric
from lens2logit.io import write_csv, write_json
from lens2logit.isp.parametrized import ADDITIVE, ALL, ParametrizedISP, ScaledGroups, magnitude_scales, rms
from lens2logit.data.export import load_dataset_arrays
from lens2logit.isp.views import differentiable_demosaic, get_view, twin_view_problems
from lens2logit.training.checkpoint import load_model
from lens2logit.training.loop import frozen
from lens2logit.training.device import resolve_device, to_device
from lens2logit.training.losses import task_loss
from lens2logit.training.metrics import KIND_METRICS, MetricAccumulator

log = logging.getLogger(__name__)

ALL_GROUPS = ALL  # every processor group at once (the paper's ``all``)
CLEAN = "none"  # the reference ISP, no attack
# Metrics reported per kind; the first is the headline metric of figures.
# Output distances to the reference ISP, reported as extra "metrics" on the validation set.
DISTANCE_METRICS = ("mse_to_reference", "ssim_to_reference")
TABLE_COLUMNS = ["parameter_group", "lambda", "lambda_paper", "regularizer", "metric", "mean", "std", "n"]
EVAL_BATCH = 64
# Groups that are not the paper's (labelled as our extension in figures).
EXTENSION_GROUPS = ("demosaic",)

# The paper's L2 regulariser summed over its batch: 4 images × 3 channels × 256 × 256 pixels.
PAPER_BATCH_SIZE = 4
PAPER_IMAGE_SIZE = 256


def lambda_factor(batch_size: int = PAPER_BATCH_SIZE, height: int = PAPER_IMAGE_SIZE, width: int = PAPER_IMAGE_SIZE) -> int:
    """Values an L2 *sum* adds over a batch, ``B · 3 · H · W``: the ratio of a summed λ to a mean's."""
    return int(batch_size) * 3 * int(height) * int(width)


def lambda_from_paper(lam_paper: float, regularizer: str = "mse", **batch: int) -> float:
    """λ of our mean regulariser equal to the paper's ``lam_paper`` (the one conversion of the project).

    ``mse``: ``λ_paper · B · 3 · H · W`` (:func:`lambda_factor`, the paper's batch and size unless
    ``batch_size``/``height``/``width`` are given); ``ssim`` was a mean in the paper too: unchanged.
    """
    return float(lam_paper) * (lambda_factor(**batch) if regularizer == "mse" else 1)


def lambda_to_paper(lam: float, regularizer: str = "mse", **batch: int) -> float:
    """Inverse of :func:`lambda_from_paper`: our λ in the paper's units."""
    return float(lam) / (lambda_factor(**batch) if regularizer == "mse" else 1)


# ------------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class ForensicsOptions:
    """What :func:`run_forensics` does: the ``forensics`` config section plus four settings of others
    (:data:`~lens2logit.training.options.CONTEXT_KEYS`). The schema defines every option and its
    default; build one with :meth:`from_config`."""

    view: str
    groups: tuple[str, ...]
    lambdas: tuple[float, ...]
    regularizers: tuple[str, ...]
    steps: int
    lr: float
    batch_size: int
    step_scale: str
    constrain: bool
    strip_samples: int
    seed: int
    bce_weight: float
    segmentation_headline: str
    device: str | None

    # Keys of the section the workflow uses to choose the inputs (not options of the run).
    WORKFLOW_KEYS: ClassVar[tuple[str, ...]] = ("enabled", "datasets", "folds", "model")
    SECTION: ClassVar[str] = "forensics"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], **context: Any) -> "ForensicsOptions":
        """Options from a ``forensics`` section (options left out take the schema's defaults);
        ``context``: ``seed``, ``bce_weight``, ``segmentation_headline``, ``device`` (from their own
        sections; left out → theirs). InputError naming every bad key."""
        values = section_with_defaults(cls.SECTION, section)
        raise_problems(twin_view_problems(values["view"], f"{cls.SECTION}.view"))
        values = {k: v for k, v in values.items() if k not in cls.WORKFLOW_KEYS}
        values.update(groups=tuple(values["groups"]), regularizers=tuple(values["regularizers"]),
                      lambdas=tuple(float(x) for x in values["lambdas"]))
        return cls(**values, **context_settings(context))

    def section(self) -> dict[str, Any]:
        """The options as the config section's keys (without the settings of other sections)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in CONTEXT_KEYS}


# ------------------------------------------------------------------------------------ evaluation
def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def render_all(isp: nn.Module, raw: torch.Tensor) -> torch.Tensor:
    """``isp(raw)`` in eval mode, in chunks, without gradients: ``(N, H, W) → (N, 3, H, W)``.

    Runs on the ISP's device; the result is gathered on ``raw``'s device (the host, normally).
    """
    mode = isp.training
    isp.eval()
    device = _device_of(isp)
    try:
        return torch.cat([isp(to_device(raw[i : i + EVAL_BATCH], device)).to(raw.device) for i in range(0, len(raw), EVAL_BATCH)])
    finally:
        isp.train(mode)


@torch.no_grad()
def evaluate(
    isp: nn.Module,
    model: nn.Module,
    raw: torch.Tensor,
    targets: torch.Tensor,
    *,
    kind: str,
    reference_output: torch.Tensor | None = None,
) -> dict[str, float]:
    """Metrics of ``model(isp(raw))`` (both in eval mode), plus distances to ``reference_output`` if given.

    Args:
        raw: ``(N, H, W)`` mosaics; targets ``(N,)`` labels or ``(N, H, W)`` masks (batches are
            copied to the model's device, where the metrics are accumulated).
        reference_output: ``(N, 3, H, W)`` output of the reference ISP on ``raw`` (see :func:`render_all`).

    Returns:
        ``{metric: value}`` with the metrics of :data:`KIND_METRICS` (and :data:`DISTANCE_METRICS`).
    """
    modes = (isp.training, model.training)
    isp.eval()
    model.eval()
    device = _device_of(model)
    scores = MetricAccumulator(kind)
    try:
        for start in range(0, len(raw), EVAL_BATCH):
            x = to_device(raw[start : start + EVAL_BATCH], device)
            y = to_device(targets[start : start + EVAL_BATCH], device)
            rgb = isp(x)
            distances = {}
            if reference_output is not None:
                ref = to_device(reference_output[start : start + EVAL_BATCH], device)
                distances = {"mse_to_reference": mse_distance(ref, rgb), "ssim_to_reference": 1.0 - ssim_distance(ref, rgb)}
            scores.update(model(rgb), y, **distances)
    finally:
        isp.train(modes[0])
        model.train(modes[1])
    values = scores.compute()
    return {m: values[m] for m in KIND_METRICS[kind] + (DISTANCE_METRICS if reference_output is not None else ())}


# ---------------------------------------------------------------------------------------- attack
def attack_isp(
    reference: ParametrizedISP,
    model: nn.Module,
    raw: torch.Tensor,
    targets: torch.Tensor,
    *,
    kind: str,
    group: str,
    lam: float,
    regularizer: str,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    bce_weight: float = 0.0,
    reference_output: torch.Tensor | None = None,
    step_scales: Mapping[str, float] | None = None,
) -> tuple[ParametrizedISP, list[dict[str, float]]]:
    """Optimise one parameter group of a copy of ``reference`` against a frozen task model.

    Minimises ``−task_loss + λ·R(reference(x), adversarial(x))`` with Adam over the group's
    parameters only. Neither ``reference`` nor ``model`` is modified (the model's
    ``requires_grad`` flags and mode are restored).

    Args:
        reference: the initial ISP (left untouched; outputs computed without gradients).
        model: task model ``(B, 3, H, W) → logits``, kept in eval mode.
        raw: ``(N, H, W)`` training mosaics; targets as :func:`~lens2logit.training.task_loss` expects.
        group: a name of :data:`GROUPS` present in ``reference``, or ``"all"``.
        lam: λ ≥ 0; regularizer: ``mse`` or ``ssim``.
        steps: Adam steps, each on a random minibatch of ``batch_size`` (seeded by ``seed``).
        reference_output: ``reference(raw)`` if already computed (it is the same for every attack).
        step_scales: ``{group: s}`` for every attacked group to optimise ``θ = s · φ``
            (:func:`~lens2logit.isp.parametrized.magnitude_scales`); None: plain Adam on ``θ``.

    Returns:
        ``(adversarial ISP in eval mode, [{"step", "loss", "task_loss", "distance"}, ...])``.
    """
    distance = get_regularizer(regularizer)
    if kind not in KIND_METRICS:
        raise InputError(f"unknown kind {kind!r}; expected one of {sorted(KIND_METRICS)}")
    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive integer (option 'steps'), got {steps!r}")
    if len(raw) == 0:
        raise InputError("forensics: the training split is empty")
    if reference_output is None:
        reference_output = render_all(reference, raw)
    adversarial = copy.deepcopy(reference).eval()
    attacked, selected = _attacked_parameters(adversarial, adversarial.group_names(group), step_scales)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(selected, lr=lr)
    device = _device_of(model)
    losses = []  # per step (loss, task loss, distance), kept on the device until the end
    with frozen(model):
        for step in range(steps):
            idx = torch.randperm(len(raw), generator=generator)[:batch_size]
            x, y, ref = (to_device(t[idx], device) for t in (raw, targets, reference_output))
            out = attacked(x)
            harm = task_loss(model(out), y, kind, bce_weight)
            dist = distance(ref, out)
            loss = -harm + lam * dist
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(torch.stack([loss.detach(), harm.detach(), dist.detach()]))
    if step_scales is not None:
        adversarial = attacked.merged().eval()
    for p in adversarial.parameters():
        p.requires_grad_(False)
    history = [
        {"step": step + 1, "loss": loss, "task_loss": harm, "distance": dist}
        for step, (loss, harm, dist) in enumerate(torch.stack(losses).tolist())
    ]
    return adversarial, history


def _attacked_parameters(adversarial: ParametrizedISP, names: Sequence[str],
                         step_scales: Mapping[str, float] | None) -> tuple[nn.Module, list[torch.nn.Parameter]]:
    """``(module to run, parameters Adam updates)``: only the attacked ``names`` require gradients; with
    ``step_scales`` they are wrapped in :class:`ScaledGroups` (each group's step scaled)."""
    for p in adversarial.parameters():
        p.requires_grad_(False)
    if step_scales is not None:
        missing = [n for n in names if n not in step_scales]
        if missing:
            raise InputError(f"step_scales lacks the attacked group(s) {missing}")
        attacked: nn.Module = ScaledGroups(adversarial, {n: step_scales[n] for n in names})
        selected = list(attacked.scaled.values())
    else:
        attacked = adversarial
        selected = adversarial.select_groups(names)
    for p in selected:
        p.requires_grad_(True)
    return attacked, selected


def _param_summary(isp: ParametrizedISP, group: str | None) -> dict[str, Any]:
    """Learned values of ``group`` (``all``: the processor's groups; None: every group of the ISP)."""
    values = isp.effective_parameters()
    names = list(values) if group is None else isp.group_names(group)
    out: dict[str, Any] = {}
    for name in names:
        v = values[name]
        # The additive image is large: keep its magnitude, not its pixels.
        out[name] = {"mean_abs": float(v.abs().mean()), "max_abs": float(v.abs().max())} if name == "additive" else v.tolist()
    return out


# ------------------------------------------------------------------------------------ experiment
def run_forensics(
    model_paths: Sequence[str | os.PathLike],
    raw_path,
    targets_path,
    meta_path,
    *,
    table_path,
    figure_path,
    strips_path,
    params_path,
    options: ForensicsOptions,
    attacks_path=None,
    distance_figure_path=None,
) -> pd.DataFrame:
    """Drift forensics for one dataset over its folds; writes table, figure, strips and parameters.

    Args:
        model_paths: one checkpoint per fold (:func:`~lens2logit.training.load_model`),
            trained on the static ``view``; each carries its ``train_indices``/``val_indices``.
        raw_path, targets_path, meta_path: the dataset's arrays at the reference intensity.
        table_path: CSV ``parameter_group,lambda,lambda_paper,regularizer,metric,mean,std,n`` (over
            folds; group ``none`` = clean, with empty λ and regularizer; ``lambda_paper``:
            :func:`lambda_to_paper`).
        figure_path: metric vs λ per group (paper fig. 2); strips_path: reference vs adversarial
            images of the first fold; params_path: learned parameter values (first fold).
        distance_figure_path: optional, metric vs the achieved distance of the output to the
            reference (MSE, 1 − SSIM) per group: the groups compared at equal visible change.
        options: :class:`ForensicsOptions`: ``groups`` attacked one at a time (``all`` = every group
            together); the grid of ``lambdas`` and ``regularizers``; ``view`` the models were
            trained on (``bi,s,ga`` or ``ma,s,ga``); ``steps``, ``lr``, ``batch_size`` of the Adam
            attack per (group, λ, regularizer, fold); ``step_scale`` (``magnitude``: each group's step
            scaled to its magnitude, :func:`~lens2logit.isp.parametrized.magnitude_scales`, measured on
            the fold's training mosaics; ``none``: plain Adam); ``seed`` (same seed and inputs → same table);
            ``device`` (option ``training.device``: ISPs and models run there, data stay on the host).
        attacks_path: optional JSON with one entry per attack (group, λ, regularizer, fold; clean
            reference: group ``none``): validation metrics, Adam history, learned parameter values,
            the attacked model file and whether the attack is shown in the strips (for the lab log).

    Returns:
        The table as a DataFrame.
    """
    o = options
    groups, lambdas, regularizers, view = list(o.groups), list(o.lambdas), list(o.regularizers), o.view
    steps, lr, batch_size, seed, constrain = o.steps, o.lr, o.batch_size, o.seed, o.constrain
    demosaic = differentiable_demosaic(view)
    device = resolve_device(o.device)
    if not model_paths:
        raise InputError("forensics needs at least one trained model (input 'models')")
    raw, targets, meta, camera = load_dataset_arrays(raw_path, targets_path, meta_path)
    height, width = raw.shape[-2:]
    additive = (height, width) if ADDITIVE in groups else None
    reference = ParametrizedISP(camera, demosaic=demosaic, additive_size=additive, constrain=constrain).to(device).eval()
    for p in reference.parameters():
        p.requires_grad_(False)

    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"camera": camera.name, "view": get_view(view).label, "reference": _param_summary(reference, None), "attacks": []}
    strips: dict[str, torch.Tensor] = {}
    strip_lambda = next((x for x in lambdas if x > 0), lambdas[0])
    attacks: list[dict[str, Any]] = []
    seed_base = max(10, len(groups), len(lambdas), len(regularizers))
    for fold, path in enumerate(model_paths):
        model, ckpt = load_model(path, device)
        kind = ckpt["kind"]
        train_idx, val_idx = _checked_fold_model(path, ckpt, meta, meta_path, view)
        x_train, y_train = raw[train_idx], targets[train_idx]
        x_val, y_val = raw[val_idx], targets[val_idx]
        ref_train, ref_val = render_all(reference, x_train), render_all(reference, x_val)
        scales = None
        if o.step_scale == "magnitude":
            attacked_names = sorted({n for g in groups for n in reference.group_names(g)})
            scales = magnitude_scales(reference, attacked_names, raw_rms=rms(x_train), output_rms=rms(ref_train))
            if fold == 0:
                params["step_scales"] = scales
        clean = evaluate(reference, model, x_val, y_val, kind=kind, reference_output=ref_val)
        records += [{"parameter_group": CLEAN, "lambda": np.nan, "regularizer": "", "fold": fold, "metric": m, "value": v} for m, v in clean.items()]
        attacks.append({"parameter_group": CLEAN, "lambda": None, "regularizer": "", "fold": fold, "model": str(path), "metrics": clean, "in_strip": fold == 0})
        if fold == 0:
            strips["reference"] = ref_val[: o.strip_samples]
        for reg_index, regularizer in enumerate(regularizers):
            for lam_index, lam in enumerate(lambdas):
                for group_index, group in enumerate(groups):
                    attack_seed = attack_seed_of(seed, seed_base, fold, reg_index, lam_index, group_index)
                    adversarial, history = attack_isp(
                        reference, model, x_train, y_train, kind=kind, group=group, lam=lam, regularizer=regularizer,
                        steps=steps, lr=lr, batch_size=batch_size, seed=attack_seed, bce_weight=o.bce_weight,
                        reference_output=ref_train, step_scales=scales,
                    )  # fmt: skip
                    scores = evaluate(adversarial, model, x_val, y_val, kind=kind, reference_output=ref_val)
                    records += [
                        {"parameter_group": group, "lambda": lam, "regularizer": regularizer, "fold": fold, "metric": m, "value": v}
                        for m, v in scores.items()
                    ]
                    log.info("fold %d %s λ=%g %s: %s (clean %s)", fold, group, lam, regularizer, scores, clean)
                    attacks.append({"parameter_group": group, "lambda": lam, "regularizer": regularizer, "fold": fold, "model": str(path),
                                    "metrics": scores, "history": history, "values": _param_summary(adversarial, group),
                                    "in_strip": fold == 0 and reg_index == 0 and lam == strip_lambda})  # fmt: skip
                    if fold == 0:
                        params["attacks"].append(
                            {"parameter_group": group, "lambda": lam, "regularizer": regularizer,
                             "final_task_loss": history[-1]["task_loss"], "values": _param_summary(adversarial, group)}
                        )  # fmt: skip
                        if reg_index == 0 and lam == strip_lambda:
                            with torch.no_grad():
                                strips[group] = adversarial(to_device(x_val[: o.strip_samples], device)).cpu()
    table = summarise(pd.DataFrame.from_records(records))
    write_csv(table_path, table)
    write_json(params_path, params)
    if attacks_path is not None:
        setup = {"view": get_view(view).label, "steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed, "constrain": constrain,
                 "step_scale": o.step_scale, "lambda_factor": lambda_factor()}  # fmt: skip
        write_json(attacks_path, {"setup": setup, "attacks": attacks})
    _plot_forensics(table, strips, options, kind=kind, name=meta.get("name", ""), strip_lambda=strip_lambda,
                    figure_path=figure_path, distance_figure_path=distance_figure_path, strips_path=strips_path)  # fmt: skip
    return table


def attack_seed_of(seed: int, base: int, fold: int, reg_index: int, lam_index: int, group_index: int) -> int:
    """The seed of one attack: the indices as digits in ``base`` (≥ every index + 1, so no two attacks
    share a seed; with fewer than 10 groups, λs and regularizers, base 10: ``seed + 1000·fold + 100·reg
    + 10·λ + group``)."""
    return seed + ((fold * base + reg_index) * base + lam_index) * base + group_index


def _checked_fold_model(path, ckpt: Mapping[str, Any], meta: Mapping[str, Any], meta_path, view: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, val)`` indices of a fold's model, after checking its kind and training view fit; InputError otherwise."""
    kind = ckpt["kind"]
    if meta.get("kind") not in (None, kind):
        raise InputError(f"model {path} is a {kind} model but {meta_path} describes a {meta['kind']} dataset")
    trained_on = Path(str(ckpt.get("config", {}).get("views_path", ""))).stem
    if trained_on and trained_on != get_view(view).slug:
        raise InputError(f"model {path} was trained on view {trained_on!r}, but forensics starts from {get_view(view).slug!r} (option 'view')")
    train_idx = torch.as_tensor(ckpt["train_indices"], dtype=torch.long)
    val_idx = torch.as_tensor(ckpt["val_indices"], dtype=torch.long)
    if len(val_idx) == 0:
        raise InputError(f"model {path} has no validation indices")
    return train_idx, val_idx


def _plot_forensics(table: pd.DataFrame, strips: Mapping[str, torch.Tensor], o: "ForensicsOptions", *, kind: str, name: str,
                    strip_lambda: float, figure_path, distance_figure_path, strips_path) -> None:
    """The figures of :func:`run_forensics`: metric vs λ, metric vs distance (optional), the strips."""
    from lens2logit.reporting.isp import plot_forensics, plot_forensics_distance, plot_strips

    headline = headline_metric(kind, o.segmentation_headline)
    title = f"{name} drift forensics ({get_view(o.view).label}, {o.steps} steps, step scale {o.step_scale})"
    plot_forensics(table, figure_path, metric=headline, title=title, extensions=EXTENSION_GROUPS)
    if distance_figure_path is not None:
        plot_forensics_distance(table, distance_figure_path, metric=headline, title=title, extensions=EXTENSION_GROUPS)
    strip_paper = lambda_to_paper(strip_lambda, o.regularizers[0])
    plot_strips(strips, strips_path, title=f"reference vs adversarial ISP (λ = {strip_lambda:g}, paper units {strip_paper:.2g}, {o.regularizers[0]})")


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std and count over folds per (group, λ, regularizer, metric); λ also in the paper's units."""
    keys = ["parameter_group", "lambda", "regularizer", "metric"]
    table = fold_summary(records, keys)
    table["lambda_paper"] = [np.nan if pd.isna(lam) else lambda_to_paper(lam, reg) for lam, reg in zip(table["lambda"], table["regularizer"])]
    return table[TABLE_COLUMNS]


__all__ = [
    "ALL_GROUPS",
    "CLEAN",
    "ForensicsOptions",
    "REGULARIZERS",
    "TABLE_COLUMNS",
    "attack_isp",
    "lambda_factor",
    "lambda_from_paper",
    "lambda_to_paper",
    "evaluate",
    "render_all",
    "run_forensics",
]
