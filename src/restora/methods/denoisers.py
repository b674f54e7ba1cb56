"""Denoisers as priors: anything that denoises, as the one tensor protocol the solvers take.

:func:`as_denoiser` turns a registered denoising method (``"tv"``, ``"bm3d"``), a shipped
weight set or weight file (``"denoise_color"``, ``"FFDNet_color.mat"``), a loaded
:class:`~restora.models.ModelDescriptor`, an ``nn.Module`` with ``forward(x, sigma)`` or an
:class:`~restora.models.inference.InferenceRunner` into a
:data:`~restora.models.inference.Denoise` (NCHW tensors, sigma in [0, 1] units). Networks
run through the one network runner (device, precision, channel adaptation); classical
methods run on the CPU through :mod:`restora.io.bridge`.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restora import zoo
from restora.errors import InvalidParameterError, ModelLoadError
from restora.io.bridge import from_tensor, to_tensor
from restora.methods.registry import REGISTRY, MethodInfo, run_method
from restora.models.descriptor import ModelDescriptor
from restora.models.inference import Denoise, InferenceRunner
from restora.models.loading import load_model_cached
from restora.options import Execution
from restora.weights import find_card, model_path

if TYPE_CHECKING:
    import torch


def method_denoiser(info: MethodInfo) -> Denoise:
    """A registered denoising method (one taking ``sigma``) as a :data:`Denoise`."""
    if not info.does("denoise") or "sigma" not in info.options:
        raise InvalidParameterError(
            f"denoiser {info.name!r} is a {info.task!r} method without a sigma option; use a "
            "denoiser that takes sigma, e.g. 'tv', 'bm3d', 'wavelet', 'nlm' or a learned one "
            "such as 'denoise_color'."
        )

    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        frames = from_tensor(x)
        out = np.stack([run_method(info, f, sigma=float(sigma) * 255.0) for f in frames])
        return to_tensor(out).to(x.device)

    return denoise


def load_network(model: str | Path | ModelDescriptor, *,
                 accept_licence: bool = False) -> ModelDescriptor:
    """A loaded network: a descriptor as given, or a shipped weight set's name, a zoo
    model's name (downloaded once; ``accept_licence`` for opt-in terms) or a weight file,
    loaded once per process (:func:`~restora.models.loading.load_model_cached`). A zoo
    model must load as the architecture its entry names and does its entry's task."""
    if isinstance(model, ModelDescriptor):
        return model
    loaded = load_model_cached(model_path(model, accept_licence=accept_licence))
    entry = zoo.find(str(model)) if not Path(model).exists() else None
    if entry is None:
        return loaded
    spandrel_id = getattr(getattr(loaded.call_fn, "architecture", None), "id", None)
    arch = f"spandrel:{spandrel_id}" if spandrel_id else loaded.arch
    if arch.lower() != entry.arch.lower():
        raise ModelLoadError(f"zoo model {entry.name}: {loaded.source} loads as {loaded.arch}, "
                             f"but the zoo lists it as {entry.arch}")
    return replace(loaded, task=entry.task) if loaded.task != entry.task else loaded


def as_denoiser(
    denoiser: Any,
    *,
    execution: Execution | None = None,
    grad: bool = False,
    tile: int | None = None,
    overlap: int = 64,
) -> Denoise:
    """Any denoiser as a :data:`Denoise`.

    denoiser: a registered method name, a shipped weight-set name or a weight file, a
        loaded descriptor, an ``nn.Module`` with ``forward(x, sigma)``, an
        :class:`InferenceRunner`, or a :data:`Denoise` callable (returned as is).
    execution: device and precision for networks (default: :class:`Execution`'s).
    grad / tile / overlap: see :meth:`InferenceRunner.as_denoiser` (networks only).
    Raises :class:`InvalidParameterError` for anything else.
    """
    execution = Execution() if execution is None else execution
    if isinstance(denoiser, str) and denoiser in REGISTRY:
        return method_denoiser(REGISTRY.get(denoiser))
    if isinstance(denoiser, str | Path) and (find_card(str(denoiser)) is not None
                                            or Path(denoiser).is_file()):
        denoiser = load_network(denoiser)
    if _is_module(denoiser):
        denoiser = ModelDescriptor.from_module(denoiser)
    if isinstance(denoiser, ModelDescriptor):
        denoiser = InferenceRunner.for_execution(denoiser, execution)
    if isinstance(denoiser, InferenceRunner):
        return denoiser.as_denoiser(grad=grad, tile=tile, overlap=overlap)
    if callable(denoiser) and not isinstance(denoiser, str | Path):
        return denoiser  # type: ignore[no-any-return]
    raise InvalidParameterError(
        "denoiser must be a registered denoising method (e.g. 'tv'), a shipped weight set "
        "(e.g. 'denoise_color'), a weight file, a loaded model, an nn.Module with "
        f"forward(x, sigma) or a callable denoise(x, sigma) on NCHW tensors; got {denoiser!r}."
    )


def _is_module(obj: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


__all__ = ["as_denoiser", "load_network", "method_denoiser"]
