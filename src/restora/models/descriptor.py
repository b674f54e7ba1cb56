"""The model descriptor: a loaded network plus what callers need to run it correctly."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.models.inference import InferenceRunner

if TYPE_CHECKING:
    import torch
    from torch import nn

Task = Literal["denoise", "upscale", "deblock", "restore"]


@dataclass(frozen=True, eq=False)
class ModelDescriptor:
    """A network in eval mode with its calling contract.

    ``arch``: ``"dncnn"``, ``"ffdnet"``, ``"drunet"``, ``"nafnet"`` or ``"spandrel:<name>"``;
    ``config``: the constructor arguments of our architectures (empty for spandrel);
    ``scale``: output size / input size; ``needs_sigma``: the network takes a noise-level map
    (pass ``sigma`` in 8-bit units); ``size_multiple``: H and W are padded to a multiple of
    it; ``tile_hint``: a tile size that works well (``None``: do not tile); ``halo``: pixels of
    context each output pixel depends on (tiling overlap; -1: do not tile);
    ``supported_dtypes``: of ``"fp32"``, ``"fp16"``, ``"bf16"``. ``source`` and ``sha256``
    identify the weight file.
    """

    model: nn.Module = field(repr=False)
    arch: str
    task: Task
    scale: int
    in_channels: int
    out_channels: int
    needs_sigma: bool
    supported_dtypes: tuple[str, ...]
    size_multiple: int
    tile_hint: int | None
    licence: str | None
    source: Path
    sha256: str
    halo: int = 32
    config: dict[str, Any] = field(default_factory=dict)
    cpu_engines: tuple[str, ...] = ()
    """The graph engines measured faster than torch for this network on the CPU (its
    architecture's :attr:`~restora.archs.registry.ArchSpec.cpu_engines`; spandrel: none)."""
    call_fn: Any = field(default=None, repr=False, compare=False)
    """For spandrel models: the spandrel descriptor (it pads to its own size rules)."""

    def run_tensor(self, x: torch.Tensor, *, sigma: float | None = None,
                   grad: bool = False) -> torch.Tensor:
        """Run on an (N, C, H, W) float tensor in [0, 1]; pads to ``size_multiple`` and crops.

        ``sigma`` (8-bit units, finite, >= 0) is required for ``needs_sigma`` models and
        refused otherwise. Runs on the tensor's device and dtype, under
        ``torch.inference_mode`` unless ``grad``; not clipped. Device, precision and
        channel adaptation are :class:`~restora.models.inference.InferenceRunner`'s job.
        """
        import torch
        import torch.nn.functional as F

        self.check_input(tuple(x.shape), sigma)
        h, w = x.shape[-2:]
        with torch.enable_grad() if grad else torch.inference_mode():
            if self.call_fn is not None:
                return self.call_fn(x)
            pad_h, pad_w, replicate = self.padding(h, w)
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate" if replicate else "constant")
            y = self.model(x, float(sigma) / 255.0) if self.needs_sigma else self.model(x)
            return y[..., : h * self.scale, : w * self.scale]

    def padding(self, height: int, width: int) -> tuple[int, int, bool]:
        """Rows and columns added below and right of a ``height x width`` input to reach
        ``size_multiple``, and whether they repeat the edge (else zeros: an input thinner
        than its padding has too few pixels to repeat)."""
        m = self.size_multiple
        pad_h, pad_w = (-height) % m, (-width) % m
        return pad_h, pad_w, pad_h < height and pad_w < width

    def check_input(self, shape: tuple[int, ...], sigma: float | None) -> None:
        """Refuse an (N, C, H, W) input of another channel count, and a ``sigma`` (8-bit
        units) missing for, given to or not finite and >= 0 for this network."""
        if self.needs_sigma:
            if sigma is None:
                raise InvalidParameterError(
                    f"model {self.arch} from {self.source.name} takes a noise level: pass "
                    f"sigma (noise std in 8-bit units, e.g. sigma=25)"
                )
            if not (math.isfinite(float(sigma)) and float(sigma) >= 0):
                raise InvalidParameterError(f"sigma must be a finite number >= 0 (8-bit units), got {sigma}")
        elif sigma is not None:
            raise InvalidParameterError(
                f"model {self.arch} from {self.source.name} has no noise-level input; "
                f"sigma={sigma} would be ignored. Leave sigma unset for this model"
            )
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ShapeError(
                f"model {self.arch} from {self.source.name} expects (N, {self.in_channels}, H, W), "
                f"got {shape}"
            )

    def __call__(self, image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
        """Run on one image: (H, W, C) or (H, W) float32 in [0, 1] -> same layout, clipped to
        [0, 1], on the CPU in float32 (an :class:`~restora.models.inference.InferenceRunner`
        with its defaults there). ``sigma``: noise std in 8-bit units for ``needs_sigma``
        models. Raises :class:`ShapeError` when the channel count does not match."""
        arr = np.asarray(image)
        if not np.issubdtype(arr.dtype, np.floating):
            raise InvalidParameterError(
                f"model {self.arch} expects a float image in [0, 1], got dtype {arr.dtype}; "
                f"convert first (e.g. uint8 / 255)"
            )
        channels = arr.shape[2] if arr.ndim == 3 else 1
        if arr.ndim not in (2, 3) or channels != self.in_channels:
            raise ShapeError(
                f"model {self.arch} from {self.source.name} expects an (H, W, {self.in_channels}) "
                f"image{' or (H, W)' if self.in_channels == 1 else ''}, got {np.shape(image)}"
            )
        return InferenceRunner(self, device="cpu", precision="fp32")(arr, sigma=sigma)

    @classmethod
    def from_module(cls, net: nn.Module, *, needs_sigma: bool = True,
                    task: Task = "denoise") -> ModelDescriptor:
        """Describe an in-memory network with ``forward(x, sigma)`` (sigma in [0, 1] units)
        or ``forward(x)``, e.g. a freshly trained :class:`~restora.archs.edm.EDMPrecond`, so
        that :class:`~restora.models.inference.InferenceRunner` can run it. Channels come
        from its ``in_channels`` attribute or its first convolution."""
        from torch import nn as torch_nn

        channels = getattr(net, "in_channels", None)
        if channels is None:
            conv = next((m for m in net.modules() if isinstance(m, torch_nn.Conv2d)), None)
            channels = conv.in_channels if conv is not None else 3
        name = type(net).__name__
        return cls(model=net.eval(), arch=f"module:{name}", task=task, scale=1,
                   in_channels=int(channels), out_channels=int(channels),
                   needs_sigma=needs_sigma, supported_dtypes=("fp32", "fp16", "bf16"),
                   size_multiple=int(getattr(net, "size_multiple", 1)), tile_hint=512,
                   halo=32, licence=None, source=Path(f"<{name}>"), sha256="")


class DeferredModelDescriptor(ModelDescriptor):
    """A :class:`ModelDescriptor` whose torch network is built on first use of ``model``.

    What a graph engine needs to run a shipped network (its contract and its exported graph,
    both kept in restora's cache: :mod:`restora.models.onnxrt`) is known without torch, and
    importing torch is most of a CLI call's start (2.5-5 s, 0.6 GB). ``build()`` returns the
    network (the full, checked load of the same file); it runs at most once, under a lock.
    """

    @property  # type: ignore[override]
    def model(self) -> nn.Module:
        net = self.__dict__.get("_network")
        if net is None:
            with self.__dict__["_lock"]:
                net = self.__dict__.get("_network")
                if net is None:
                    import torch

                    with torch.inference_mode(False):  # first used inside run_tensor's mode:
                        net = self.__dict__["_build"]()  # its weights must take gradients
                    self.__dict__["_network"] = net
        return net

    @model.setter
    def model(self, value: nn.Module | None) -> None:
        self.__dict__["_network"] = value
        self.__dict__.setdefault("_lock", threading.Lock())
        self.__dict__.setdefault("_build", _no_builder)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with its network built (the builder and the lock stay behind)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_build")}
        state["_network"] = self.model
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _build=_no_builder)

    @property
    def built(self) -> bool:
        """Whether the torch network exists yet."""
        return self.__dict__.get("_network") is not None

    @classmethod
    def deferred(cls, build: Callable[[], nn.Module], **fields: object) -> DeferredModelDescriptor:
        """The descriptor of ``fields`` (every field but ``model``), its network from
        ``build()`` when first asked for."""
        made = cls(model=None, **fields)  # type: ignore[arg-type]
        made.__dict__["_build"] = build
        return made


def _no_builder() -> nn.Module:
    raise RuntimeError("this descriptor has no network and no way to build one")
