"""Run a loaded network on a device, in a precision, on batches of tiles.

:class:`InferenceRunner` wraps a :class:`~restora.models.ModelDescriptor` with execution
options: ``device`` (``cpu``, ``cuda[:N]``, ``mps``, ``auto``), ``precision`` (``fp32``,
``fp16``, ``bf16``, ``auto``), ``channels_last``, ``ensemble`` (x8 self-ensemble) and
``threads`` (CPU threads). It takes NHWC float32 stacks of tiles (what
:func:`restora.pipeline.run_tiled` passes with ``batch=N``), converts them once to NCHW,
sends them to the device, runs the network and brings the result back to host memory, so
the full image never sits on the device. The network is copied to the device/dtype once,
on first use; construction only validates the options (no allocation, no download) and the
caller's descriptor is never modified. On CPU in fp32 (the default) the descriptor's own
network is used, and the result is byte-identical to ``descriptor(image)``.
"""

from __future__ import annotations

import copy
import numbers
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError

if TYPE_CHECKING:
    import torch

    from restora.models.descriptor import ModelDescriptor

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "InferenceRunner",
    "cpu_threads",
    "resolve_device",
    "resolve_precision",
]

DEVICES = ("cpu", "cuda", "mps", "auto")
PRECISIONS = ("fp32", "fp16", "bf16", "auto")

#: Largest tile side (input pixels) networks get by default. With DnCNN's 68-pixel overlap
#: 512-pixel tiles cost 2x the work of one pass on 1024x768 (6 tiles); 1024 holds ~270 MB
#: per 64-channel activation (benchmarks/model_inference.py). See :func:`fit_tile`.
DEFAULT_MODEL_TILE = 1024


def fit_tile(height: int, width: int, *, max_tile: int, overlap: int, multiple: int = 1) -> int:
    """The tile side <= ``max_tile`` for which :func:`~restora.pipeline.run_tiled` processes
    the fewest pixels on a ``height x width`` image (ties: the larger tile).

    A fixed tile wastes work on the last row/column, which is shifted inward to stay full
    size: 2000x1500 in 1024-pixel tiles with overlap 68 runs 6 tiles of 1024x1024 (2.1x the
    pixels of the image); 551-pixel tiles run 12 tiles (1.21x).
    """
    from restora.pipeline import tile_grid

    if max(height, width) <= max_tile:
        return max_tile
    best_cost, best = None, max_tile
    for t in range(max_tile, 2 * overlap, -1):
        if t % multiple:
            continue
        rows, cols, th, tw = tile_grid(height, width, tile=t, overlap=overlap, multiple=multiple)
        cost = len(rows) * len(cols) * th * tw
        if best_cost is None or cost < best_cost:
            best_cost, best = cost, t
    return best


def resolve_device(device: str) -> str:
    """The torch device name to use: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    ``auto``: CUDA if available, else MPS, else CPU. Raises :class:`InvalidParameterError`
    for an unknown name or a device this machine / torch build does not have.
    """
    if not isinstance(device, str):
        raise InvalidParameterError(
            f"device must be a string ({', '.join(DEVICES)} or cuda:N); got {device!r}"
        )
    name = device.strip().lower()
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise InvalidParameterError(
            f"device must be one of {', '.join(DEVICES)} or cuda:N; got {device!r}"
        )
    if base == "cpu":
        return "cpu"
    import torch

    has_cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if base == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if base == "cuda":
        if not has_cuda:
            why = "a CPU-only build" if torch.version.cuda is None else "no usable NVIDIA GPU/driver"
            raise InvalidParameterError(
                f"device {device!r} is not available: torch {torch.__version__} sees no CUDA "
                f"device ({why}). Use device='cpu' (or 'auto' to take a GPU when there is one)"
            )
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise InvalidParameterError(
                f"device {device!r} is not available: this machine has {count} CUDA device(s) "
                f"(cuda:0 .. cuda:{count - 1})"
            )
        return name
    if not has_mps:
        raise InvalidParameterError(
            f"device {device!r} is not available: MPS needs an Apple-silicon Mac and a torch "
            "build with MPS support. Use device='cpu' or 'auto'"
        )
    return "mps"


def resolve_precision(
    precision: str, *, device: str, supported: tuple[str, ...], model_name: str = "the model"
) -> str:
    """The dtype name to run in: ``"fp32"``, ``"fp16"`` or ``"bf16"``.

    ``auto``: fp32 on CPU; on CUDA fp16 if the model supports it, else bf16 (when the GPU
    has it), else fp32; on MPS fp16 if supported, else fp32. An explicit precision the model
    does not list in ``supported`` raises :class:`InvalidParameterError` naming the ones it does.
    """
    if precision not in PRECISIONS:
        raise InvalidParameterError(
            f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}"
        )
    if precision == "auto":
        if device == "cpu":
            return "fp32"
        if "fp16" in supported:
            return "fp16"
        if device.startswith("cuda") and "bf16" in supported:
            import torch

            if torch.cuda.is_bf16_supported():
                return "bf16"
        return "fp32"
    if precision not in supported:
        raise InvalidParameterError(
            f"{model_name} does not support precision={precision!r}; it supports "
            f"{', '.join(supported)}"
        )
    return precision


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Limit torch (when loaded) and OpenCV to ``threads`` CPU threads; restore them after.

    ``None``: leave the thread counts alone.
    """
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise InvalidParameterError(f"threads must be an integer >= 1 or None; got {threads!r}")
    import cv2

    torch_mod: Any = sys.modules.get("torch")
    previous_torch = torch_mod.get_num_threads() if torch_mod is not None else None
    previous_cv2 = cv2.getNumThreads()
    try:
        if torch_mod is not None:
            torch_mod.set_num_threads(int(threads))
        cv2.setNumThreads(int(threads))
        yield
    finally:
        cv2.setNumThreads(previous_cv2)
        if torch_mod is not None and previous_torch is not None:
            torch_mod.set_num_threads(previous_torch)


def _dtype(name: str) -> torch.dtype:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


class InferenceRunner:
    """A network with execution options; callable on HW, HWC or NHWC float images in [0, 1].

    model: a loaded :class:`~restora.models.ModelDescriptor` (not modified).
    device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
    precision: ``fp32``, ``fp16``, ``bf16`` or ``auto`` (see :func:`resolve_precision`).
    channels_last: run in NHWC memory format (helps tensor cores on GPU).
    ensemble: x8 self-ensemble: the mean of the outputs for the 8 flips/rotations of the
        input, each transformed back (Timofte, Rothe, Van Gool, "Seven ways to improve
        example-based single image super resolution", CVPR 2016). The noise level of a
        sigma model is the same for all 8. 8x the time.
    threads: CPU threads for torch during each call (restored afterwards); ``None``: as is.
    luma: a 1-channel model also takes RGB input, run on its luma (JFIF Y, the plane a JPEG
        encoder quantises) with the chroma kept (JPEG deblocking of colour photos, as ARCNN
        and DnCNN-3 are applied).
    A 3-channel (colour) model also takes gray input: run as R = G = B, returned as the mean.
    Raises :class:`InvalidParameterError` for an unavailable device or unsupported precision.
    """

    def __init__(
        self,
        model: ModelDescriptor,
        *,
        device: str = "cpu",
        precision: str = "auto",
        channels_last: bool = False,
        ensemble: bool = False,
        threads: int | None = None,
        luma: bool = False,
    ) -> None:
        for flag, value in (("channels_last", channels_last), ("ensemble", ensemble), ("luma", luma)):
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{flag} must be True or False; got {value!r}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
        ):
            raise InvalidParameterError(f"threads must be an integer >= 1 or None; got {threads!r}")
        self.model = model
        self.device = resolve_device(device)
        self.precision = resolve_precision(
            precision,
            device=self.device,
            supported=tuple(model.supported_dtypes),
            model_name=f"model {model.arch} from {model.source.name}",
        )
        self.channels_last = channels_last
        self.ensemble = ensemble
        self.threads = None if threads is None else int(threads)
        self.luma = luma and model.in_channels == 1 and model.out_channels == 1
        self._prepared: ModelDescriptor | None = None

    def __repr__(self) -> str:
        return (
            f"InferenceRunner({self.model.arch} from {self.model.source.name}, "
            f"device={self.device!r}, precision={self.precision!r}, "
            f"channels_last={self.channels_last}, ensemble={self.ensemble}, threads={self.threads})"
        )

    def tile_for(self, height: int, width: int, *, overlap: int) -> int | None:
        """Tile side for an image when the caller does not choose: ``None`` when the model
        must not be tiled, else :func:`fit_tile` up to the larger of the model's
        ``tile_hint`` and :data:`DEFAULT_MODEL_TILE`."""
        hint = self.model.tile_hint
        if hint is None:
            return None
        largest = max(hint, DEFAULT_MODEL_TILE)
        return fit_tile(height, width, max_tile=largest, overlap=overlap,
                        multiple=self.model.size_multiple)

    def _on_device(self) -> ModelDescriptor:
        """The descriptor with its network on the device/dtype (copied once, then cached)."""
        if self._prepared is not None:
            return self._prepared
        desc = self.model
        if self.device == "cpu" and self.precision == "fp32" and not self.channels_last:
            self._prepared = desc  # loaded models are CPU fp32 already: use them as they are
            return desc
        import torch

        kwargs: dict[str, Any] = {"device": self.device, "dtype": _dtype(self.precision)}
        fmt = {"memory_format": torch.channels_last} if self.channels_last else {}
        if desc.call_fn is not None:  # spandrel: its descriptor wraps (and pads for) the module
            call_fn = copy.deepcopy(desc.call_fn)
            call_fn.model.to(**kwargs, **fmt)
            net = call_fn.model
        else:
            call_fn = None
            net = copy.deepcopy(desc.model).to(**kwargs, **fmt)
        net.eval()
        self._prepared = replace(desc, model=net, call_fn=call_fn)
        return self._prepared

    def _forward(self, x: torch.Tensor, sigma: float | None) -> torch.Tensor:
        """NCHW float32 host tensor -> NCHW float32 host tensor in [0, 1]."""
        import torch

        desc = self._on_device()
        if self.device != "cpu" or self.precision != "fp32":
            x = x.to(device=self.device, dtype=_dtype(self.precision))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.ensemble:
            y = desc.run_tensor(x, sigma=sigma).float()
        else:
            y = None
            for k in range(4):
                for flip in (False, True):
                    t = torch.rot90(x.flip(-1) if flip else x, k, (-2, -1))
                    r = torch.rot90(desc.run_tensor(t, sigma=sigma).float(), -k, (-2, -1))
                    r = r.flip(-1) if flip else r
                    y = r if y is None else y + r
            assert y is not None
            y = y / 8
        return y.clamp(0, 1).cpu()

    def run_batch(
        self, tiles: np.ndarray, *, sigma: float | None = None, scale: int | None = None
    ) -> np.ndarray:
        """Run on an (N, H, W, C_in) float stack in [0, 1] -> (N, H*s, W*s, C_out) float32.

        The output is clipped to [0, 1]. ``sigma``: noise std in 8-bit units (required for,
        and only for, ``needs_sigma`` models). ``scale``, when given, must be the model's.
        """
        arr = np.asarray(tiles)
        if not np.issubdtype(arr.dtype, np.floating):
            raise InvalidParameterError(
                f"model {self.model.arch} expects float tiles in [0, 1], got dtype {arr.dtype}; "
                "convert first (e.g. uint8 / 255)"
            )
        if self.luma and arr.ndim == 4 and arr.shape[3] == 3:
            from restora.color import rgb_to_ycbcr_jfif, ycbcr_jfif_to_rgb

            ycc = rgb_to_ycbcr_jfif(arr)
            y = self.run_batch(ycc[..., :1].astype(np.float32), sigma=sigma, scale=scale)
            if y.shape[1:3] != arr.shape[1:3]:
                raise ShapeError(f"luma mode needs a same-size model; {self.model.arch} upscales")
            ycc[..., :1] = y
            return np.clip(ycbcr_jfif_to_rgb(ycc), 0.0, 1.0).astype(np.float32)
        if arr.ndim == 4 and arr.shape[3] == 1 and self.model.in_channels == 3 == self.model.out_channels:
            # a gray image through a colour network: as R = G = B, back to gray by the mean
            y = self.run_batch(np.repeat(arr, 3, axis=3), sigma=sigma, scale=scale)
            return y.mean(axis=3, keepdims=True, dtype=np.float32)
        if arr.ndim != 4 or arr.shape[3] != self.model.in_channels:
            raise ShapeError(
                f"model {self.model.arch} from {self.model.source.name} expects an "
                f"(N, H, W, {self.model.in_channels}) stack, got {arr.shape}"
            )
        if scale is not None and int(scale) != self.model.scale:
            raise InvalidParameterError(
                f"model {self.model.arch} from {self.model.source.name} upscales "
                f"x{self.model.scale}; got scale={scale}"
            )
        import torch

        x = torch.from_numpy(np.array(arr.transpose(0, 3, 1, 2), dtype=np.float32, copy=True))
        with cpu_threads(self.threads):
            y = self._forward(x, sigma)
        return y.permute(0, 2, 3, 1).numpy().astype(np.float32, copy=False)

    def __call__(
        self, image: np.ndarray, *, sigma: float | None = None, scale: int | None = None
    ) -> np.ndarray:
        """Run on one image (HW or HWC) or a stack (NHWC); returns the same layout, float32."""
        arr = np.asarray(image)
        if arr.ndim == 4:
            return self.run_batch(arr, sigma=sigma, scale=scale)
        if arr.ndim not in (2, 3):
            raise ShapeError(
                f"model {self.model.arch} takes an HW, HWC or NHWC image; got shape {arr.shape}"
            )
        squeeze = arr.ndim == 2
        out = self.run_batch((arr[:, :, None] if squeeze else arr)[None], sigma=sigma, scale=scale)[0]
        return out[:, :, 0] if squeeze and out.shape[2] == 1 else out
