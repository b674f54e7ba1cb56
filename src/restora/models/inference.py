"""The one network runner: device, precision, channel adaptation, self-ensemble, batches.

:class:`InferenceRunner` wraps a :class:`~restora.models.ModelDescriptor` with execution
options: ``device`` (``cpu``, ``cuda[:N]``, ``mps``, ``auto``), ``precision`` (``fp32``,
``fp16``, ``bf16``, ``auto``; reduced precision runs under ``torch.autocast`` with fp32
weights, and fp16 falls back to fp32 where it overflows), ``channels_last``, ``ensemble``
(x8 self-ensemble) and ``threads`` (CPU threads; by default the CPUs this process may use,
cgroup quota included: :func:`available_cpus`). It runs NHWC float32 stacks of tiles (what
:func:`restora.pipeline.run_tiled` passes with ``batch=N``) and, through
:meth:`InferenceRunner.as_denoiser`, serves as the tensor denoiser ``D(x, sigma)`` that
plug-and-play, diffusion and evaluation use. Every array <-> tensor conversion goes through
:mod:`restora.io.bridge`. The network is copied to the device once, on first use;
construction only validates the options (no allocation, no download) and the caller's
descriptor is never modified. With ``channels_last=False`` on CPU in fp32 the descriptor's
own network is used, and the result is byte-identical to ``descriptor(image)``.

The CPU path: channels-last always (fp32 convolutions 1.2-1.8x faster on the CPUs measured,
``benchmarks/speed_table.py``), and under ``precision="auto"`` bf16 autocast where the CPU
has native bf16 (:func:`cpu_bf16_supported`: AMX or AVX512-BF16) *and* the model is a
shipped weight set whose recorded bf16 loss (``WeightCard.bf16_loss_db``, measured by
``benchmarks/cpu_precision.py`` on its reference sets) is at most :data:`BF16_MAX_LOSS_DB`;
fp32 otherwise. On the CPU, ``backend="auto"`` runs the architectures that list graph engines
(:attr:`~restora.archs.registry.ArchSpec.cpu_engines`) with the first one installed for the
precision (:mod:`restora.models.onnxrt`): OpenVINO (fp32 and bf16; DRUNet in about half torch's time),
ONNX Runtime (fp32: 0.71-0.84x torch fp32's time on 1024-pixel tiles, same result to about
1e-6); torch runs everything else (GPUs, spandrel networks, gradients).
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restora.archs.registry import arch_names, get_spec
from restora.color import replace_luma_jfif, rgb_to_ycbcr_jfif, ycbcr_jfif_to_rgb
from restora.errors import InvalidParameterError, ShapeError
from restora.io.bridge import from_tensor, to_tensor
from restora.models.onnxrt import (
    ENGINE_PACKAGES,
    OnnxNetwork,
    OpenVinoNetwork,
    engine_available,
)
from restora.options import (
    BACKENDS,
    DEFAULT_MODEL_TILE,
    PRECISIONS,
    Execution,
    check_device,
)
from restora.pipeline.tiling import run_tiled, tile_grid
from restora.weights import find_card

if TYPE_CHECKING:
    import torch

    from restora.models.descriptor import ModelDescriptor

__all__ = [
    "BF16_MAX_LOSS_DB",
    "Denoise",
    "InferenceRunner",
    "augment",
    "available_cpus",
    "cpu_bf16_supported",
    "cpu_threads",
    "deaugment",
    "fit_tile",
    "gpu_possible",
    "recorded_bf16_loss",
    "resolve_backend",
    "resolve_device",
    "resolve_precision",
]

#: Largest PSNR loss (dB) of bf16 against fp32, over a shipped model's reference sets, for
#: which ``precision="auto"`` runs that model in bf16 on a CPU with native bf16.
BF16_MAX_LOSS_DB = 0.02
#: CPU flags (``/proc/cpuinfo`` spelling) of native bf16 matrix maths. Without one of them
#: torch still runs bf16 autocast on the CPU, emulated: 6x (channels-last) to 50x slower
#: than fp32 on an AVX2 EPYC (benchmarks/speed_table.py).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
#: Where Linux lists the CPU's feature flags.
CPUINFO = Path("/proc/cpuinfo")
#: Device nodes through which torch reaches a GPU on Linux: NVIDIA (CUDA), AMD (ROCm), WSL2.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")
#: Above this many pixels a network's automatic tile is at most :data:`LARGE_IMAGE_TILE`:
#: a 100 MP photo's own 8-bit samples (in and out) take 600 MB, torch 550 MB, and DRUNet's
#: activations on a 1024-pixel tile 800 MB (768: 470 MB, for 5% more work with its
#: 64-pixel overlap). Keeps ``restora restore`` of a 100 MP photo under 2 GB.
LARGE_IMAGE_PIXELS = 50_000_000
LARGE_IMAGE_TILE = 768

_RUNNERS: dict[tuple[Any, ...], InferenceRunner] = {}
_RUNNERS_LOCK = threading.Lock()
#: Runners (with their device copies of the networks) kept per process.
_RUNNERS_KEPT = 8

#: The denoiser protocol of plug-and-play and diffusion solvers: ``denoise(x, sigma)`` with
#: ``x`` an (N, C, H, W) float32 tensor and ``sigma`` the noise std in [0, 1] units (8-bit
#: sigma / 255), returning the clean estimate of the same shape (not clipped).
Denoise = Callable[["torch.Tensor", float], "torch.Tensor"]


def fit_tile(height: int, width: int, *, max_tile: int, overlap: int,
             multiple: int = 1) -> tuple[int, int]:
    """The tile ``(height, width)``, each side <= ``max_tile``, for which
    :func:`~restora.pipeline.run_tiled` processes the fewest pixels on a ``height x width``
    image (ties: the larger side).

    A fixed square tile wastes work on the last row/column, which is shifted inward to stay
    full size: 2000x1500 in 1024-pixel tiles with overlap 68 runs 6 tiles of 1024x1024 (2.1x
    the pixels of the image); 551-pixel squares run 12 tiles (1.21x), and 712x784 rectangles
    run 6 (1.12x). The work is the product of one sum per axis, so each side is
    chosen on its own axis; neither exceeds ``max_tile``, so the tile's memory stays within
    a ``max_tile`` square's.
    """
    return (_fit_side(height, max_tile, overlap, multiple),
            _fit_side(width, max_tile, overlap, multiple))


def _fit_side(length: int, max_tile: int, overlap: int, multiple: int) -> int:
    """The tile side <= ``max_tile`` whose tiles cover ``length`` pixels of one axis with
    the fewest pixels processed (ties: the larger side)."""
    if length <= max_tile:
        return max_tile
    best_cost, best = None, max_tile
    for side in range(max_tile, 2 * overlap, -1):
        if side % multiple:
            continue
        rows, _, th, _ = tile_grid(length, 1, tile=side, overlap=overlap, multiple=multiple)
        cost = len(rows) * th
        if best_cost is None or cost < best_cost:
            best_cost, best = cost, side
    return best


def resolve_device(device: str) -> str:
    """The torch device name to use: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    ``auto``: CUDA if available, else MPS, else CPU. Raises :class:`InvalidParameterError`
    for an unknown name or a device this machine / torch build does not have.
    """
    name = check_device(device)
    base, _, index = name.partition(":")
    if base == "cpu" or base == "auto" and not gpu_possible():
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


def gpu_possible() -> bool:
    """Whether this machine may have a GPU for torch: macOS (MPS), any system but Linux, or
    Linux with one of :data:`GPU_DEVICE_NODES`. Where not, ``device="auto"`` is the CPU
    without importing torch (2.5-5 s of a CLI call, 0.6 GB)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(node) for node in GPU_DEVICE_NODES)


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """This CPU's feature flags: ``/proc/cpuinfo`` (Linux), plus what torch detects itself."""
    flags: set[str] = set()
    try:
        with open(CPUINFO, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags.update(line.partition(":")[2].split())
                    break
    except OSError:
        pass
    torch_mod: Any = sys.modules.get("torch")
    probes = (("amx_bf16", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported"))
    for flag, probe in probes:
        try:
            if torch_mod is not None and getattr(torch_mod.cpu, probe)():
                flags.add(flag)
        except (AttributeError, RuntimeError):
            pass
    return frozenset(flags)


def cpu_bf16_supported() -> bool:
    """True when this CPU has native bf16 matrix maths (AMX-BF16 or AVX512-BF16), the only
    CPUs on which bf16 autocast is faster than fp32; read once per process."""
    return any(flag in _cpu_flags() for flag in BF16_CPU_FLAGS)


def recorded_bf16_loss(model: ModelDescriptor) -> float | None:
    """The PSNR loss (dB) of bf16 against fp32 recorded for a shipped weight set (its card's
    ``bf16_loss_db``); ``None`` for any other weight file (never measured)."""
    card = find_card(Path(model.source).stem)
    if card is None or card.bf16_loss_db is None:
        return None
    try:
        same = os.path.samefile(card.path, model.source)
    except OSError:
        same = False
    return card.bf16_loss_db if same else None


def available_cpus(*, cgroup_root: str | Path = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: its affinity mask (``os.sched_getaffinity``), capped by a
    cgroup CPU quota rounded up (v2 ``cpu.max``; v1 ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us``); at least 1. A container limited to 2 CPUs on a 64-core host
    gets 2, where torch would start 64 threads."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    root = Path(cgroup_root)
    quota = _cgroup_quota(root / "cpu.max")
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        if quota is None:
            quota = _cgroup_quota(root / folder / "cpu.cfs_quota_us", root / folder / "cpu.cfs_period_us")
    if quota is not None:
        count = min(count, max(1, math.ceil(quota - 1e-9)))
    return max(1, count)


def _cgroup_quota(path: Path, period_path: Path | None = None) -> float | None:
    """CPUs allowed by one cgroup file (``"max"`` or a negative quota: no limit -> None)."""
    try:
        fields = path.read_text().split()
        if period_path is not None:
            fields = fields[:1] + period_path.read_text().split()[:1]
        quota, period = fields[0], float(fields[1])
        if quota == "max" or float(quota) <= 0 or period <= 0:
            return None
        return float(quota) / period
    except (OSError, ValueError, IndexError):
        return None


def resolve_precision(
    precision: str, *, device: str, supported: tuple[str, ...], model_name: str = "the model",
    bf16_loss_db: float | None = None,
) -> str:
    """The dtype name to run in: ``"fp32"``, ``"fp16"`` or ``"bf16"``.

    ``auto``: on CPU bf16 when the CPU has native bf16 (:func:`cpu_bf16_supported`), the
    model supports it and its measured loss ``bf16_loss_db`` (dB against fp32 on its
    reference sets; ``None``: not measured) is at most :data:`BF16_MAX_LOSS_DB`, else fp32;
    on CUDA fp16 if the model supports it, else bf16 (when the GPU has it), else fp32; on
    MPS fp16 if supported, else fp32. An explicit precision the model does not list in
    ``supported`` raises :class:`InvalidParameterError` naming the ones it does.
    """
    if precision not in PRECISIONS:
        raise InvalidParameterError(
            f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}"
        )
    if precision == "auto":
        if device == "cpu":
            if ("bf16" in supported and bf16_loss_db is not None
                    and bf16_loss_db <= BF16_MAX_LOSS_DB and cpu_bf16_supported()):
                return "bf16"
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


#: Precisions each graph engine runs on the CPU (bf16: OpenVINO's inference precision).
ENGINE_PRECISIONS = {"onnxruntime": ("fp32",), "openvino": ("fp32", "bf16")}


def _engine_refusal(engine: str, *, device: str, precision: str, model: ModelDescriptor,
                    exports: bool) -> str | None:
    """Why graph ``engine`` cannot run ``model`` here (``exports``: its architecture exports
    to ONNX for every input size), or ``None`` when it can."""
    precisions = ENGINE_PRECISIONS[engine]
    if device != "cpu" or precision not in precisions:
        return f"it runs on the CPU in {' or '.join(precisions)} (here {device}, {precision})"
    if model.call_fn is not None:
        return f"it runs restora's own architectures ({model.source.name} is a spandrel network)"
    if not exports:
        return f"a {model.arch} network does not export to ONNX for every input size"
    if not engine_available(engine):
        return f"it is not installed (pip install {ENGINE_PACKAGES[engine]})"
    return None


def resolve_backend(backend: str, *, device: str, precision: str, model: ModelDescriptor) -> str:
    """The engine to run ``model`` with: ``"torch"``, ``"onnxruntime"`` or ``"openvino"``.

    ``auto``: on the CPU, the first engine of the model's
    :attr:`~restora.models.ModelDescriptor.cpu_engines` (its architecture's, measured faster
    than torch) that is installed and runs this precision (ONNX Runtime: fp32; OpenVINO: fp32,
    bf16); torch otherwise (GPUs, fp16, spandrel networks, architectures that list none). A
    graph engine asked for by name where it cannot run raises :class:`InvalidParameterError`
    saying why.
    """
    if backend not in BACKENDS:
        raise InvalidParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "torch":
        return "torch"
    where = {"device": device, "precision": precision, "model": model}
    if backend == "auto":  # an architecture lists engines only when it exports (ArchSpec)
        return next((e for e in model.cpu_engines
                     if _engine_refusal(e, exports=True, **where) is None), "torch")
    exports = model.arch not in arch_names() or get_spec(model.arch).onnx
    why = _engine_refusal(backend, exports=exports, **where)
    if why is not None:
        raise InvalidParameterError(f"backend {backend} cannot run model {model.arch}: {why}; "
                                    "use backend torch or auto")
    return backend


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
    try:
        import cv2
    except ImportError:  # a bare image without OpenCV (a lent GPU's): nothing of it to limit
        cv2 = None

    torch_mod: Any = sys.modules.get("torch")
    previous_torch = torch_mod.get_num_threads() if torch_mod is not None else None
    previous_cv2 = cv2.getNumThreads() if cv2 is not None else None
    try:
        if torch_mod is not None:
            torch_mod.set_num_threads(int(threads))
        if cv2 is not None:
            cv2.setNumThreads(int(threads))
        yield
    finally:
        if cv2 is not None:
            cv2.setNumThreads(previous_cv2)
        if torch_mod is not None and previous_torch is not None:
            torch_mod.set_num_threads(previous_torch)


def _dtype(name: str) -> torch.dtype:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def augment(x: Any, mode: int) -> Any:
    """One of the 8 flips/rotations of an (..., H, W) tensor or array (KAIR ``augment_img``
    modes 0-7: ``mode % 4`` quarter turns, after a vertical flip when ``mode >= 4``)."""
    if isinstance(x, np.ndarray):
        return np.rot90(np.flip(x, -2) if mode >= 4 else x, mode % 4, (-2, -1))
    import torch

    return torch.rot90(x.flip(-2) if mode >= 4 else x, mode % 4, (-2, -1))


def deaugment(x: Any, mode: int) -> Any:
    """The inverse of :func:`augment` with the same ``mode``."""
    if isinstance(x, np.ndarray):
        x = np.rot90(x, -(mode % 4), (-2, -1))
        return np.flip(x, -2) if mode >= 4 else x
    import torch

    x = torch.rot90(x, -(mode % 4), (-2, -1))
    return x.flip(-2) if mode >= 4 else x


class InferenceRunner:
    """A network with execution options; callable on HW, HWC or NHWC float images in [0, 1].

    model: a loaded :class:`~restora.models.ModelDescriptor` (not modified).
    device: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (default: CUDA, then MPS, then
        the CPU).
    precision: ``fp32``, ``fp16``, ``bf16`` or ``auto`` (see :func:`resolve_precision`); fp16
        and bf16 run under ``torch.autocast`` (weights stay fp32); an fp16 result with NaN or
        inf (overflow) is computed again in fp32, with a warning.
    channels_last: run in NHWC memory format (faster convolutions on GPUs, and on CPUs in
        fp32 as well as in bf16); ``None``: yes. ``False`` on CPU in fp32 runs the
        descriptor's own network (byte-identical to ``descriptor(image)``).
    ensemble: x8 self-ensemble: the mean of the outputs for the 8 flips/rotations of the
        input, each transformed back (Timofte, Rothe, Van Gool, "Seven ways to improve
        example-based single image super resolution", CVPR 2016). The noise level of a
        sigma model is the same for all 8. 8x the time.
    threads: CPU threads for torch during each call on the CPU (restored afterwards);
        ``None``: :func:`available_cpus` (affinity and cgroup quota).
    backend: ``torch`` (default here), ``onnxruntime``, ``openvino`` or ``auto`` (see
        :func:`resolve_backend`); the graph engines serve forward passes without gradients,
        torch the ones with.
    compile: run torch's forward passes through ``torch.compile`` (inductor), compiled on
        first use and again for each new tile size (tens of seconds each); gradients and
        graph engines run as before; ignored for spandrel networks.
    luma: a 1-channel model also takes RGB input, run on its luma (JFIF Y, the plane a JPEG
        encoder quantises) with the chroma kept (JPEG deblocking of colour photos, as ARCNN
        and DnCNN-3 are applied).
    Channel adaptation (also for :meth:`as_denoiser`): a 3-channel (colour) model takes gray
    input as R = G = B and returns the mean; a 1-channel model without ``luma`` takes colour
    input channel by channel.
    Raises :class:`InvalidParameterError` for an unavailable device or unsupported precision.
    """

    def __init__(
        self,
        model: ModelDescriptor,
        *,
        device: str = "auto",
        precision: str = "auto",
        channels_last: bool | None = False,
        ensemble: bool = False,
        threads: int | None = None,
        luma: bool = False,
        backend: str = "torch",
        compile: bool = False,
    ) -> None:
        for flag, value in (("ensemble", ensemble), ("luma", luma), ("compile", compile)):
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
            bf16_loss_db=recorded_bf16_loss(model),
        )
        if channels_last is None:
            channels_last = True
        if not isinstance(channels_last, bool):
            raise InvalidParameterError(f"channels_last must be True or False; got {channels_last!r}")
        self.channels_last = channels_last
        self.ensemble = ensemble
        self.threads = None if threads is None else int(threads)
        self.luma = luma and model.in_channels == 1 and model.out_channels == 1
        self.backend = resolve_backend(backend, device=self.device, precision=self.precision,
                                       model=model)
        self._engine_chosen = backend == "auto"  # fall back to torch if the engine fails to load
        self._torch_channels_last = channels_last
        if self.backend != "torch":
            self.channels_last = False  # the graph engines take NCHW
        self.compile = compile and model.call_fn is None
        self._prepared: ModelDescriptor | None = None
        self._compiled: ModelDescriptor | None = None
        self._graph_net: OnnxNetwork | OpenVinoNetwork | None = None
        self._warned = False

    @classmethod
    def for_execution(cls, model: ModelDescriptor, execution: Execution, *,
                      luma: bool = False) -> InferenceRunner:
        """The runner with the device, precision, ensemble and threads of an
        :class:`~restora.options.Execution` (channels-last),
        shared per process: a web server or batch worker copies a network to its device once."""
        key = (model, execution.device, execution.precision, execution.ensemble,
               execution.threads, luma, execution.backend, execution.compile)
        with _RUNNERS_LOCK:
            runner = _RUNNERS.pop(key, None)
            if runner is None:
                runner = cls(model, device=execution.device, precision=execution.precision,
                             channels_last=None, ensemble=execution.ensemble,
                             threads=execution.threads, luma=luma, backend=execution.backend,
                             compile=execution.compile)
            _RUNNERS[key] = runner  # most recently used last
            while len(_RUNNERS) > _RUNNERS_KEPT:
                _RUNNERS.pop(next(iter(_RUNNERS)))
        return runner

    def __repr__(self) -> str:
        return (
            f"InferenceRunner({self.model.arch} from {self.model.source.name}, "
            f"device={self.device!r}, precision={self.precision!r}, "
            f"channels_last={self.channels_last}, ensemble={self.ensemble}, threads={self.threads}, "
            f"backend={self.backend!r}, compile={self.compile})"
        )

    def tile_for(self, height: int, width: int, *, overlap: int) -> tuple[int, int] | None:
        """Tile ``(height, width)`` for an image when the caller does not choose: ``None``
        when the model must not be tiled, else :func:`fit_tile` up to the larger of the model's
        ``tile_hint`` and :data:`~restora.options.DEFAULT_MODEL_TILE` (for images over
        :data:`LARGE_IMAGE_PIXELS`: :data:`LARGE_IMAGE_TILE`, bounding memory)."""
        hint = self.model.tile_hint
        if hint is None:
            return None
        cap = DEFAULT_MODEL_TILE if height * width <= LARGE_IMAGE_PIXELS else LARGE_IMAGE_TILE
        largest = max(hint, cap)
        return fit_tile(height, width, max_tile=largest, overlap=overlap,
                        multiple=self.model.size_multiple)

    def _engine(self) -> OnnxNetwork | OpenVinoNetwork | None:
        """The graph engine's network (ONNX Runtime, OpenVINO: forward passes on numpy
        arrays, no torch), loaded once; ``None`` when torch runs this runner, or when the
        engine failed to load and ``backend="auto"`` fell back to torch."""
        if self.backend == "torch":
            return None
        if self._graph_net is None:
            threads = self.threads if self.threads is not None else available_cpus()
            try:
                self._graph_net = (OnnxNetwork(self.model, threads) if self.backend == "onnxruntime"
                              else OpenVinoNetwork(self.model, threads, self.precision))
            except Exception as exc:  # noqa: BLE001  (export or engine compile failed)
                what = f"{self.backend} could not load {self.model.source.name}: " + (
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                if not self._engine_chosen:
                    raise InvalidParameterError(f"backend {what}; use backend torch or auto") from None
                warnings.warn(f"{what}; running it with torch", RuntimeWarning, stacklevel=3)
                self.backend, self.channels_last = "torch", self._torch_channels_last
        return self._graph_net if self.backend != "torch" else None

    def _on_device(self, grad: bool = False) -> ModelDescriptor:
        """The descriptor with its torch network on the device (copied once, then cached;
        compiled with ``compile`` unless ``grad``)."""
        if self.compile and not grad:
            if self._compiled is None:
                import torch

                prepared = self._on_device(grad=True)
                self._compiled = replace(prepared, model=torch.compile(prepared.model))
            return self._compiled
        if self._prepared is not None:
            return self._prepared
        desc = self.model
        if self.device == "cpu" and not self.channels_last:
            self._prepared = desc  # loaded models are CPU fp32 already: use them as they are
            return desc
        import torch

        fmt = {"memory_format": torch.channels_last} if self.channels_last else {}
        if desc.call_fn is not None:  # spandrel: its descriptor wraps (and pads for) the module
            call_fn = copy.deepcopy(desc.call_fn)
            call_fn.model.to(device=self.device, **fmt)
            net = call_fn.model
        else:
            call_fn = None
            net = copy.deepcopy(desc.model).to(device=self.device, **fmt)
        net.eval()
        self._prepared = replace(desc, model=net, call_fn=call_fn)
        return self._prepared

    def _network(self, x: torch.Tensor, sigma: float | None, precision: str,
                 grad: bool) -> torch.Tensor:
        """The network (with the ensemble) on an NCHW float32 tensor already on the device."""
        import torch

        desc = self._on_device(grad)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        autocast = (torch.autocast(x.device.type, dtype=_dtype(precision))
                    if precision != "fp32" else nullcontext())
        with autocast:
            return self._ensembled(lambda t: desc.run_tensor(t, sigma=sigma, grad=grad).float(), x)

    def _ensembled(self, run: Callable[[Any], Any], x: Any) -> Any:
        """``run(x)``, or with ``ensemble`` the mean of ``run`` over the 8 flips/rotations of
        ``x`` (tensor or array), each turned back."""
        if not self.ensemble:
            return run(x)
        total = None
        for mode in range(8):
            y = deaugment(run(augment(x, mode)), mode)
            total = y if total is None else total + y
        return total / 8

    def _engine_pass(self, engine: OnnxNetwork | OpenVinoNetwork, x: np.ndarray,
                     sigma: float | None) -> np.ndarray:
        """One graph-engine pass on an (N, C, H, W) float32 array: padded to the size
        multiple as :meth:`ModelDescriptor.run_tensor` pads, and cropped back."""
        self.model.check_input(tuple(x.shape), sigma)
        h, w = x.shape[-2:]
        pad_h, pad_w, replicate = self.model.padding(h, w)
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)),
                       mode="edge" if replicate else "constant")
        y = engine.run(np.ascontiguousarray(x, np.float32), sigma)
        return y[..., : h * self.model.scale, : w * self.model.scale]

    def _adapt_channels(self, x: Any, run: Callable[[Any], Any], concat: Callable[..., Any]) -> Any:
        """``run`` on an (N, C, H, W) tensor or array whose channels the model may not take
        (see the class): gray into a colour model as R = G = B, returning the mean; colour
        into a gray model channel by channel (``concat`` joins them on axis 1)."""
        c, model_c = int(x.shape[1]), self.model.in_channels
        if c == 1 and model_c == 3 == self.model.out_channels:
            return run(x[:, [0, 0, 0]]).mean(1)[:, None]
        if c > 1 and model_c == 1 and self.model.out_channels == 1:
            return concat([run(x[:, i : i + 1]) for i in range(c)], 1)
        if c != model_c:
            raise ShapeError(
                f"model {self.model.arch} from {self.model.source.name} takes {model_c} "
                f"channel(s); the image has {c}"
            )
        return run(x)

    def _forward_array(self, engine: OnnxNetwork | OpenVinoNetwork, x: np.ndarray,
                       sigma: float | None) -> np.ndarray:
        """:meth:`forward` of an (N, C, H, W) float32 array through a graph engine, without
        torch: float32, not clipped."""
        return self._adapt_channels(
            x, lambda t: self._ensembled(lambda u: self._engine_pass(engine, u, sigma), t),
            np.concatenate)

    def forward(self, x: torch.Tensor, sigma: float | None = None, *,
                grad: bool = False) -> torch.Tensor:
        """Run on an (N, C, H, W) float tensor in [0, 1] (any device); returns float32 on
        ``x``'s device, not clipped. ``sigma``: noise std in 8-bit units (for, and only
        for, ``needs_sigma`` models). Gray input to a colour model and colour input to a
        gray one are adapted (see the class). grad: keep the autograd graph (DPS)."""
        import torch

        engine = None if grad else self._engine()
        if engine is not None:
            array = x.detach().to("cpu", torch.float32).numpy()
            return torch.from_numpy(self._forward_array(engine, array, sigma)).to(x.device)
        return self._adapt_channels(x, lambda t: self._forward_torch(t, sigma, grad), torch.cat)

    def _forward_torch(self, x: torch.Tensor, sigma: float | None, grad: bool) -> torch.Tensor:
        """:meth:`forward` on torch, for a tensor with the model's channel count."""
        import torch

        home = x.device
        x = x.to(device=self.device, dtype=torch.float32)
        threads = self.threads
        if threads is None and self.device == "cpu":
            threads = available_cpus()
        with cpu_threads(threads):
            y = self._network(x, sigma, self.precision, grad)
            if self.precision == "fp16" and not bool(torch.isfinite(y).all()):
                if not self._warned:
                    warnings.warn(f"{self.model.source.name}: fp16 overflowed (NaN/inf); "
                                  "running in fp32 instead", RuntimeWarning, stacklevel=2)
                    self._warned = True
                y = self._network(x, sigma, "fp32", grad)
        return y.to(home)

    def as_denoiser(self, *, grad: bool = False, tile: int | None = None,
                    overlap: int = 64) -> Denoise:
        """This network as a :data:`Denoise` (``sigma`` in [0, 1] units), for plug-and-play
        and diffusion solvers. tile / overlap: when ``tile`` is set (and ``grad`` is not),
        images larger than it run in blended tiles, so memory stays bounded by the tile."""
        if not self.model.needs_sigma or self.model.scale != 1:
            raise InvalidParameterError(
                f"model {self.model.arch} from {self.model.source.name} has no noise-level "
                "input (or changes the size); a denoiser for plug-and-play or diffusion must "
                "take sigma, e.g. FFDNet, DRUNet or restora's shipped denoisers"
            )

        def whole(x: torch.Tensor, sigma: float) -> torch.Tensor:
            return self.forward(x, float(sigma) * 255.0, grad=grad)

        if tile is None or grad:
            return whole

        def tiled(x: torch.Tensor, sigma: float) -> torch.Tensor:
            if max(x.shape[-2:]) <= tile:
                return whole(x, sigma)
            frames = from_tensor(x)
            out = [run_tiled(lambda t: from_tensor(whole(to_tensor(t), sigma))[0], frame,
                             tile=tile, overlap=overlap, multiple=self.model.size_multiple)
                   for frame in frames]
            return to_tensor(np.stack(out)).to(x.device)

        return tiled

    @property
    def tiles_on_device(self) -> bool:
        """Whether a photo's tiles should stay on the device
        (``stream_tiled(..., device=...)`` with :meth:`tensor_fn`): on a GPU,
        where the numpy engine's copies and blending would cost more than the network; not
        on the CPU, where both engines take the same time and the numpy one less memory."""
        return self.device != "cpu"

    def _check_scale(self, scale: int | None) -> None:
        if scale is not None and int(scale) != self.model.scale:
            raise InvalidParameterError(
                f"model {self.model.arch} from {self.model.source.name} upscales "
                f"x{self.model.scale}; got scale={scale}"
            )

    def tensor_fn(self, *, sigma: float | None = None,
                  scale: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """This network as the tile function of
        ``restora.pipeline.stream_tiled(..., device=...)``: an (N, C, H, W) float32 tensor in
        [0, 1] on the runner's device -> (N, C_out, H*s, W*s) on the same device, clipped to
        [0, 1] as :meth:`run_batch` clips (luma mode as well: colour through its luma on the
        device, :func:`~restora.color.replace_luma_jfif`). ``sigma`` / ``scale`` as
        :meth:`run_batch`."""
        self._check_scale(scale)
        if self.luma and self.model.scale != 1:
            raise ShapeError(f"luma mode needs a same-size model; {self.model.arch} upscales")

        def network(x: torch.Tensor) -> torch.Tensor:
            return self.forward(x, sigma).clamp(0, 1)

        def run(x: torch.Tensor) -> torch.Tensor:
            if self.luma and x.shape[1] == 3:
                return replace_luma_jfif(x, network)
            return network(x)

        return run

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
        if arr.ndim != 4:
            raise ShapeError(
                f"model {self.model.arch} from {self.model.source.name} expects an "
                f"(N, H, W, C) stack, got {arr.shape}"
            )
        self._check_scale(scale)
        if self.luma and arr.shape[3] == 3:
            ycc = rgb_to_ycbcr_jfif(arr)
            y = self.run_batch(ycc[..., :1].astype(np.float32), sigma=sigma, scale=scale)
            if y.shape[1:3] != arr.shape[1:3]:
                raise ShapeError(f"luma mode needs a same-size model; {self.model.arch} upscales")
            ycc[..., :1] = y
            return np.clip(ycbcr_jfif_to_rgb(ycc), 0.0, 1.0).astype(np.float32)
        engine = self._engine()
        if engine is not None:  # numpy in, numpy out: no torch in this process
            nchw = np.ascontiguousarray(arr.transpose(0, 3, 1, 2), np.float32)
            y = self._forward_array(engine, nchw, sigma)
            return np.ascontiguousarray(np.clip(y, 0.0, 1.0).transpose(0, 2, 3, 1), np.float32)
        return from_tensor(self.forward(to_tensor(arr), sigma).clamp(0, 1))

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
