"""One request type: what to run, with which parameters, how, and where the result goes.

Every entry point (``restora.restore``/``restore_file``, ``restora restore``, ``restora
batch``, ``restora eval``, the web form) builds the same four frozen dataclasses and hands
them to :class:`restora.run.Restorer`:

* :class:`Choice`: *what* runs (a task, optionally a registered method or a weight file);
* :class:`Params`: facts and settings of the restoration (noise level, scale, kernel, JPEG
  quality of the input, seed, inpainting mask, the method's own options);
* :class:`Execution`: *how* it runs (device, precision, tiles, threads, memory limits);
* :class:`Output`: *where* it goes (bit depth, JPEG quality, format, file-name suffix).

Each field is declared once, here, with its default, its range and its help text (the
``help`` metadata the CLI options and the web form are built from, see
:mod:`restora.cli_options`); each class checks its values when it is made. No heavy imports.
"""

from __future__ import annotations

import ast
import hashlib
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from restora import zoo
from restora.degrade.operators import BAYER_PATTERNS
from restora.errors import InvalidParameterError
from restora.frames import ALIGN_METHODS, HDR_MERGES, TONEMAPS
from restora.frames import BURST_MERGES as BURST_METHODS
from restora.io import SUPPORTED_WRITE_SUFFIXES
from restora.io.atomic import file_sha256
from restora.weights import find_card

AUTO = "auto"
#: Every task, ``auto`` first (the default of every entry point): ``auto`` inspects each
#: photo (JPEG quality, exposure, noise) and runs only what it needs (:mod:`restora.auto`).
TASKS = (AUTO, "denoise", "deblock", "upscale", "deblur", "inpaint", "demosaic", "lowlight")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
#: Engines that run a network (:attr:`Execution.backend`).
BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
BIT_DEPTHS = (8, 16, 32)
#: How camera RAW inputs are developed (:attr:`Params.raw_develop`).
RAW_DEVELOP = ("denoise", "develop", "libraw")
#: Output formats: the file suffix, and the bit depth the format forces (``None``: the
#: input's). ``same`` keeps each input's format (camera RAW becomes 16-bit TIFF).
FORMATS: dict[str, tuple[str | None, int | None]] = {
    "same": (None, None),
    "png": (".png", None),
    "jpg": (".jpg", None),
    "tiff": (".tif", None),
    "tiff16": (".tif", 16),
    "webp": (".webp", None),
}
#: Suffix for a decoded format name (``Photo.format``) when the output keeps the format.
FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}

#: Tile side (pixels) for methods that are not networks; networks choose the least-work
#: rectangle with sides up to :data:`DEFAULT_MODEL_TILE`.
DEFAULT_TILE = 512
#: Largest tile side (input pixels) networks get by default. With DnCNN's 68-pixel overlap
#: 512-pixel tiles cost 2x the work of one pass on 1024x768 (6 tiles); 1024 holds ~270 MB
#: per 64-channel activation (benchmarks/model_inference.py). See
#: :func:`restora.models.inference.fit_tile`.
DEFAULT_MODEL_TILE = 1024
#: Overlap (pixels) between neighbouring tiles; grows to four times a method's halo.
DEFAULT_OVERLAP = 32
#: Largest upscaling factor accepted.
MAX_SCALE = 16
#: Kernel specs accepted from untrusted callers (the web form): never a server file path.
KERNEL_SPEC = re.compile(r"(?i)(gauss|gaussian|motion)\s*:\s*[0-9.]+(\s*,\s*-?[0-9.]+)?")

TaskName = Literal["auto", "denoise", "deblock", "upscale", "deblur", "inpaint", "demosaic",
                   "lowlight"]


def _opt(default: Any = None, help: str = "", *, web: bool = False, flag: str | None = None,
         factory: Any = None) -> Any:
    """A dataclass field with its help text; ``web``: offered by the web form; ``flag``: the
    CLI spelling when it is not ``--<name-with-dashes>``."""
    meta = {"help": help, "web": web, "flag": flag}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _bad(name: str, expected: str, value: object) -> InvalidParameterError:
    return InvalidParameterError(f"{name} must be {expected}; got {value!r}")


def _int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _bad(name, f"an integer in {lo}..{hi}" if hi else f"an integer >= {lo}", value)
    if value < lo or (hi is not None and value > hi):
        raise _bad(name, f"an integer in {lo}..{hi}" if hi else f"an integer >= {lo}", value)
    return int(value)


def _float(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _bad(name, f"a number in [{lo:g}, {hi:g}]", value)
    if not lo <= float(value) <= hi:
        raise _bad(name, f"a number in [{lo:g}, {hi:g}]", value)
    return float(value)


def _one_of(name: str, value: object, choices: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _bad(name, "one of " + ", ".join(choices), value)
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def check_device(device: object) -> str:
    """A device name: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (lower-cased).

    Only the spelling is checked here; whether this machine has it is checked when a
    network is put on it (:func:`restora.models.inference.resolve_device`).
    """
    if not isinstance(device, str):
        raise _bad("device", "one of auto, cpu, cuda, cuda:N, mps", device)
    name = device.strip().lower()
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise _bad("device", "one of auto, cpu, cuda, cuda:N, mps", device)
    return name


def check_sigma(sigma: object, *, method: str, required: str = "") -> float:
    """Validate a noise level in 8-bit units (finite, >= 0) and return it as a float.

    ``required`` is appended to the message when ``sigma`` is missing (how to get one).
    """
    if sigma is None:
        raise InvalidParameterError(
            f"method {method!r}: sigma (noise std in 8-bit units, e.g. 25) is required{required}"
        )
    try:
        value = float(sigma)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"method {method!r}: sigma must be a number (8-bit units, e.g. 25); got {sigma!r}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InvalidParameterError(
            f"method {method!r}: sigma must be a finite number >= 0 (8-bit units); got {sigma!r}"
        )
    return value


# --- the four parts of a request ------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What runs.

    task: ``auto`` (default) inspects each photo and chains deblock -> lowlight -> denoise ->
        upscale; a named task runs the best default for each image's channels
        (:mod:`restora.defaults`) unless ``method`` or ``model`` is given. With
        ``method``/``model`` and task ``auto``, the method's own task runs.
    method: a registered method (``restora methods``) or, from Python, a
        :class:`~restora.methods.registry.MethodInfo` of your own. model: a weight file, the
        name of a shipped weight set, or a loaded :class:`~restora.models.ModelDescriptor`.
    """

    task: str = _opt(AUTO, "auto: inspect each photo (deblock JPEGs, brighten under-exposed "
                     "photos, denoise when noisy, upscale with --scale) | denoise | deblock | "
                     "upscale | deblur | inpaint | demosaic | lowlight. With --method/--model: "
                     "that method's task.", web=True)
    method: str | None = _opt(None, "Registered method (see `restora methods`); default: the "
                              "best one for the task and each image's channels.", web=True)
    model: Any = _opt(None, "Weight file (.safetensors, .pth, .ckpt, MatConvNet .mat) to run "
                      "instead of a method, or the name of a shipped weight set (see `restora "
                      "methods`, e.g. upscale_real_x4), or of a zoo model (see `restora "
                      "models list`, e.g. drunet_color; downloaded once, verified).", web=True)
    accept_licence: bool = _opt(False, "Allow a zoo model with non-commercial or flagged terms "
                                "(`restora models info NAME` shows them) to download and run.")

    def __post_init__(self) -> None:
        _one_of("task", self.task, TASKS)
        if self.method is not None and not isinstance(self.method, str) \
                and not callable(getattr(self.method, "fn", None)):
            raise _bad("method", "a registered method name (or a MethodInfo)", self.method)
        if self.method is not None and self.model is not None:
            raise InvalidParameterError("give either a method or a model (weight file), not both")
        if isinstance(self.model, str) and not self.model.strip():
            raise _bad("model", "a weight file or a shipped weight-set name", self.model)
        if not isinstance(self.accept_licence, bool):
            raise _bad("accept_licence", "true or false", self.accept_licence)


@dataclass(frozen=True)
class Params:
    """Facts about the input and settings of the restoration (the same for every image).

    sigma: noise std in 8-bit units (25 means 25/255), ``None`` = estimated per image (on
        the luma of JPEGs); used by methods that take a noise level.
    scale: upscaling factor (upscale; ``auto`` upscales only when it is given).
    kernel: the blur: a 2-D array, ``"gauss:SIGMA"``, ``"motion:LENGTH,ANGLE"`` or a kernel
        file (deblur; upscale with a kernel runs plug-and-play super-resolution).
    quality: JPEG quality (1..100) the input was saved at; ``None`` = read from the file's
        quantisation tables. Methods that do not need it ignore it.
    seed: seed of stochastic methods (diffpir, zs_n2n); methods that are deterministic
        ignore it.
    mask: inpainting mask: an image file or an HW array of the image's size, white / nonzero
        = pixels to fill.
    bayer: the Bayer layout of a one-channel mosaic to demosaic (``None``: the method's
        default, RGGB).
    strength: how much of the restoration to apply, 0..1: the result blended with the
        input (0 = the input, 1 = the full result; ``None``: 1). Low-light methods blend
        the brightening themselves; for denoise, deblock and deblur the runner blends
        (photographers keep some grain); in the automatic mode it scales the denoising step.
    raw_develop: how camera RAW files become a photo (:data:`RAW_DEVELOP`): ``denoise``
        (default; :mod:`restora.io.raw_develop`, denoised in the linear domain),
        ``develop`` (the same development without denoising) or ``libraw`` (LibRaw's
        rendering). Decided by the runner, never handed to methods.
    Any other field is handed to the methods that take a keyword of its name, and refused
    for the others (so a new option is this field plus the method's keyword).
    options: the method's own options (``restora methods`` lists them), e.g.
        ``{"iterations": 250}`` for ``zs_n2n``; unknown names are refused.
    """

    sigma: float | None = _opt(None, "Noise std in 8-bit units (25 = 25/255); omit to "
                               "estimate per image.", web=True)
    scale: int | None = _opt(None, "Upscaling factor (upscale; in auto mode, upscale by it).",
                             web=True)
    kernel: Any = _opt(None, "Blur kernel (deblur; upscale with a kernel): 'gauss:2.0', "
                       "'motion:15,30' or a .npy/.png/.mat file.", web=True)
    quality: int | None = _opt(None, "JPEG quality the input was saved at (deblock); default: "
                               "read from the JPEG's quantisation tables.", web=True)
    seed: int | None = _opt(None, "Seed for stochastic methods (diffpir, zs_n2n).", web=True)
    mask: Any = _opt(None, "Inpainting mask image of the same size: white = pixels to fill.",
                     web=True)
    bayer: str | None = _opt(None, "Bayer layout of a one-channel mosaic to demosaic: RGGB "
                             "(default) | BGGR | GRBG | GBRG.", web=True)
    strength: float | None = _opt(None, "How much of the result to keep, 0..1, blended with "
                                  "the input (denoise, deblock, deblur, lowlight; in auto mode "
                                  "the denoising step): below 1 keeps some grain. Default 1.",
                                  web=True)
    raw_develop: str = _opt("denoise", "Camera RAW inputs: denoise (restora's development, "
                            "denoised in the linear sensor domain with a Poisson-Gaussian "
                            "noise model) | develop (restora's, not denoised there) | libraw "
                            "(LibRaw's rendering). The task then runs on the developed photo.")
    options: Mapping[str, Any] = _opt(
        None, "A method's own option, KEY=VALUE, repeatable (e.g. -O iterations=250 for "
        "zs_n2n, -O steps=50 for diffpir; `restora methods` lists them).", flag="--option",
        factory=dict)

    def __post_init__(self) -> None:
        if self.sigma is not None:
            _set(self, "sigma", _float("sigma", self.sigma, 0.0, 255.0))
        if self.scale is not None:
            _set(self, "scale", _int("scale", self.scale, 1, MAX_SCALE))
        if self.quality is not None:
            _set(self, "quality", _int("quality", self.quality, 1, 100))
        if self.seed is not None:
            _set(self, "seed", _int("seed", self.seed, 0, 2**63 - 1))
        if self.kernel is not None and not isinstance(self.kernel, (str, Path, np.ndarray)):
            raise _bad("kernel", "a spec ('gauss:2.0', 'motion:15,30'), a file or a 2-D array",
                       self.kernel)
        if isinstance(self.kernel, str) and not self.kernel.strip():
            raise _bad("kernel", "a spec ('gauss:2.0', 'motion:15,30'), a file or a 2-D array",
                       self.kernel)
        if self.mask is not None and not isinstance(self.mask, (str, Path, np.ndarray)):
            raise _bad("mask", "an image file or an HW array", self.mask)
        if self.bayer is not None:
            _one_of("bayer", self.bayer, list(BAYER_PATTERNS))
        if self.strength is not None:
            _set(self, "strength", _float("strength", self.strength, 0.0, 1.0))
        _one_of("raw_develop", self.raw_develop, RAW_DEVELOP)
        if not isinstance(self.options, Mapping):
            raise _bad("options", "a mapping of the method's own options", self.options)
        clash = sorted(k for k in self.options if k in COMMON_PARAMS)
        if clash:
            raise InvalidParameterError(
                f"give {', '.join(clash)} as its own option (--{clash[0]} / {clash[0]}=...), "
                "not as a method option"
            )
        bad = [k for k in self.options if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise _bad("method option names", "identifiers", bad)
        _set(self, "options", dict(self.options))


@dataclass(frozen=True)
class Execution:
    """How a restoration runs; never changes *what* the result is meant to be.

    device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``;
        used by every method that runs a network (learned models, plug-and-play with a
        learned denoiser, diffusion, zero-shot); other methods run on the CPU.
    precision: ``auto`` (fp16/bf16 on a GPU; on a CPU bf16 only where it has AMX or
        AVX512-BF16 and the shipped model's recorded bf16 loss is at most 0.02 dB, else
        fp32), ``fp32``, ``fp16``, ``bf16``; fp16 falls back to fp32 where it overflows.
    backend: the engine: ``auto`` (on the CPU, for the architectures a graph engine runs
        faster (DRUNet, DnCNN, FFDNet, EDSR): OpenVINO (fp32 and bf16), or ONNX Runtime in
        fp32 where OpenVINO does not import; torch otherwise), ``torch``, ``onnxruntime``,
        ``openvino``.
    tile: tile side in pixels; ``"auto"`` = 512 for classical methods, for networks the
        least-work rectangle with sides up to 1024; ``None`` = the whole image at once.
    overlap: pixels shared by neighbouring tiles (grows to four times a method's reach).
    batch: tiles per network call. ensemble: x8 self-ensemble of a network (8x slower).
    compile: ``torch.compile`` (inductor) the network on first use, where torch runs it (on
        a GPU; on the CPU with ``backend="torch"``; not spandrel networks): each new tile
        size compiles once (about 75 s for DRUNet on 2 CPU cores), later calls run faster.
    threads: CPU threads for torch and OpenCV during a call (``None``: OpenCV unchanged,
        networks on the CPUs this process may use, cgroup quota included).
    max_pixels: refuse inputs with more pixels (decompression-bomb limit; ``None``:
        ``$RESTORA_MAX_PIXELS`` or 200 MP).
    """

    device: str = _opt("auto", "Where networks run: auto (CUDA, then MPS, then CPU) | cpu | "
                       "cuda | cuda:N | mps.")
    precision: str = _opt("auto", "Network precision: auto (fp16/bf16 on a GPU; bf16 on CPUs "
                          "with AMX/AVX512-BF16 for models it costs <= 0.02 dB, else fp32) "
                          "| fp32 | fp16 | bf16.")
    backend: str = _opt("auto", "Network engine: auto (on the CPU, OpenVINO if installed or "
                        "ONNX Runtime in fp32 for the architectures they run faster, else "
                        "torch) | torch | onnxruntime | openvino.")
    tile: int | str | None = _opt("auto", "Tile side in pixels: auto (512; networks the "
                                  "least-work rectangle, sides up to 1024) or a number; 0 = whole image.")
    overlap: int = _opt(DEFAULT_OVERLAP, "Tile overlap in pixels.")
    batch: int = _opt(1, "Tiles per network call.")
    ensemble: bool = _opt(False, "x8 self-ensemble of a network (flips/rotations averaged; "
                          "8x slower).")
    compile: bool = _opt(False, "Compile networks with torch.compile on first use (where "
                         "torch runs them: GPUs, or --backend torch): the first tile of each "
                         "new size takes tens of seconds, the rest run faster.")
    threads: int | None = _opt(None, "CPU threads for torch and OpenCV (default: the CPUs "
                               "available to the process, cgroup quota included).")
    max_pixels: int | None = _opt(None, "Refuse images with more pixels (decompression-bomb "
                                  "limit; default $RESTORA_MAX_PIXELS or 200 MP).")

    def __post_init__(self) -> None:
        _set(self, "device", check_device(self.device))
        _one_of("precision", self.precision, PRECISIONS)
        _one_of("backend", self.backend, BACKENDS)
        tile = self.tile
        if isinstance(tile, str):
            text = tile.strip().lower()
            if text != AUTO and not text.isdigit():
                raise _bad("tile", "auto, 0 (whole image) or a tile side in pixels", tile)
            tile = AUTO if text == AUTO else int(text)
        if tile is not None and tile != AUTO:
            tile = _int("tile", tile, 0) or None  # 0: the whole image
        _set(self, "tile", tile)
        _set(self, "overlap", _int("overlap", self.overlap, 0))
        _set(self, "batch", _int("batch", self.batch, 1))
        for flag in ("ensemble", "compile"):
            if not isinstance(getattr(self, flag), bool):
                raise _bad(flag, "True or False", getattr(self, flag))
        if self.threads is not None:
            _set(self, "threads", _int("threads", self.threads, 1))
        if self.max_pixels is not None:
            _set(self, "max_pixels", _int("max_pixels", self.max_pixels, 1))


@dataclass(frozen=True)
class Output:
    """How results are written.

    bit_depth: 8, 16 or 32 (float TIFF); ``None`` = the input's. jpeg_quality: quality of
    JPEG/WebP outputs. format: ``same`` (each input's format), png, jpg, tiff, tiff16, webp
    (batch and web; a single ``restora restore`` output takes the format of its suffix).
    suffix: added to each output file's stem (batch). overwrite: replace existing files
    (every entry point refuses to otherwise; ``restora batch`` replaces the outputs it wrote
    itself when it redoes them).
    """

    bit_depth: int | None = _opt(None, "Output bits per channel (8, 16, 32); default: the "
                                 "input's.", web=True)
    jpeg_quality: int = _opt(95, "Quality of JPEG/WebP outputs.", web=True)
    format: str = _opt("same", "Output format: same | png | jpg | tiff | tiff16 | webp.",
                       web=True, flag="--format")
    suffix: str = _opt("", "Added to each output's file stem, e.g. _restored.")
    overwrite: bool = _opt(False, "Replace an existing output file (refused otherwise), even "
                           "an input.")

    def __post_init__(self) -> None:
        if self.bit_depth is not None and self.bit_depth not in BIT_DEPTHS:
            raise _bad("bit_depth", "8, 16 or 32", self.bit_depth)
        _set(self, "jpeg_quality", _int("jpeg_quality", self.jpeg_quality, 1, 100))
        _one_of("format", self.format, list(FORMATS))
        forced = FORMATS[self.format][1]
        if forced is not None and self.bit_depth not in (None, forced):
            raise InvalidParameterError(
                f"format {self.format!r} writes {forced}-bit files but bit_depth="
                f"{self.bit_depth!r} was given; drop one of them"
            )
        if forced is not None:
            _set(self, "bit_depth", forced)
        if not isinstance(self.suffix, str) or "/" in self.suffix or "\\" in self.suffix \
                or self.suffix.startswith("."):
            raise InvalidParameterError(
                f"suffix {self.suffix!r} is added to file names: it cannot contain '/' or "
                "start with '.'"
            )
        if not isinstance(self.overwrite, bool):
            raise _bad("overwrite", "True or False", self.overwrite)

    def suffix_for(self, source: str | Path, photo_format: str | None = None) -> str:
        """The output file suffix for an input: the format's, else the input's own suffix
        (or, for a name without a writable one, the decoded format's; RAW -> ``.tif``)."""
        forced = FORMATS[self.format][0]
        if forced is not None:
            return forced
        own = Path(source).suffix.lower()
        if own in SUPPORTED_WRITE_SUFFIXES:
            return Path(source).suffix
        return FORMAT_SUFFIX.get(photo_format or "", ".tif")


#: How several frames become one (``Frames.merge``): exposure brackets (``fuse`` chooses
#: debevec when exposure times are known, else mertens) and bursts of one exposure (``burst``
#: = wiener).
FUSE_MERGES = ("fuse", "mertens", *HDR_MERGES)
BURST_MERGES = ("burst", *BURST_METHODS)
ALIGNS = (AUTO, *ALIGN_METHODS)
_TIME = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:/([0-9]*\.?[0-9]+))?")


def _seconds(item: object) -> float | None:
    if isinstance(item, str):
        match = _TIME.fullmatch(item.replace(" ", ""))
        if match is None or (match[2] is not None and float(match[2]) == 0):
            return None
        return float(match[1]) / (float(match[2]) if match[2] is not None else 1.0)
    if isinstance(item, numbers.Real) and not isinstance(item, bool):
        return float(item)
    return None


def parse_times(value: object) -> tuple[float, ...]:
    """Exposure times in seconds from ``"1/30,1/8,0.5"`` or a sequence of numbers; each
    finite and > 0."""
    expected = "exposure times in seconds > 0, e.g. '1/30,1/8,1/2'"
    if isinstance(value, str):
        items: list[Any] = [t for t in value.replace(";", ",").split(",") if t.strip()]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.ravel(value))
    else:
        raise _bad("times", expected, value)
    out = [_seconds(item) for item in items]
    if not out or any(t is None or not math.isfinite(t) or t <= 0 for t in out):
        raise _bad("times", expected, value)
    return tuple(float(t) for t in out)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Frames:
    """How several photos of one scene become one (``restora fuse``, ``restora burst``, web
    jobs with ``merge``); see :mod:`restora.frames`.

    merge: ``None`` = every photo on its own (``restora restore``); exposure brackets:
        fuse | mertens | debevec | robertson; bursts: burst | wiener | mean.
    times: exposure time of each frame (seconds, the frames' order); ``None`` = EXIF.
    align: auto (fuse: mtb; burst: tiles) | off | mtb | ecc | tiles. reference: index of
    the reference frame (``None``: fuse the middle exposure, burst the first frame).
    deghost, tonemap, hdr: fuse. denoise: burst.
    """

    merge: str | None = _opt(None, "How several frames become one: fuse (exposure brackets: "
                             "debevec HDR when exposure times are known, else mertens) | "
                             "mertens | debevec | robertson; burst (frames of one exposure: "
                             "wiener) | wiener | mean. Default: each photo on its own.",
                             web=True)
    times: tuple[float, ...] | str | None = _opt(
        None, "Exposure time of each frame in seconds, in the frames' order, "
        "e.g. 1/30,1/8,1/2 (default: each frame's EXIF ExposureTime; fuse without times runs "
        "mertens).", web=True)
    align: str = _opt(AUTO, "Frame alignment: auto (fuse: mtb; burst: tiles) | mtb (integer "
                      "shift, any exposure) | ecc (sub-pixel; fuse: shift, burst: shift + "
                      "rotation) | tiles (HDR+ sub-pixel shift per 16-px tile) | off.", web=True)
    reference: int | None = _opt(None, "Reference frame, 0 = the first given: moving objects "
                                 "are taken from it, and its EXIF/ICC kept (default: fuse "
                                 "the middle exposure, burst the first frame).", web=True)
    deghost: bool = _opt(True, "fuse: take moving objects from the reference frame only "
                         "(pixels that disagree with it beyond noise are down-weighted).",
                         web=True, flag="--deghost/--no-deghost")
    tonemap: str = _opt("drago", "fuse with an HDR merge: radiance map to output: drago | "
                        "reinhard | mantiuk | gamma.", web=True)
    hdr: str | None = _opt(None, "fuse: also write the HDR radiance map (float, relative "
                           "units): .hdr (Radiance RGBE), .exr (OpenEXR, where OpenCV writes "
                           "it) or .tif (32-bit float TIFF).")
    denoise: bool = _opt(True, "burst: denoise the merged frame at its lowered noise level "
                         "(the method of --task denoise, or --method/--model).", web=True,
                         flag="--denoise/--no-denoise")

    def __post_init__(self) -> None:
        if self.merge is not None:
            _one_of("merge", self.merge, FUSE_MERGES + BURST_MERGES)
        if self.times is not None:
            _set(self, "times", parse_times(self.times))
        _one_of("align", self.align, ALIGNS)
        if self.reference is not None:
            _set(self, "reference", _int("reference", self.reference, 0))
        for name in ("deghost", "denoise"):
            if not isinstance(getattr(self, name), bool):
                raise _bad(name, "True or False", getattr(self, name))
        _one_of("tonemap", self.tonemap, TONEMAPS)
        if self.hdr is not None:
            if not isinstance(self.hdr, (str, Path)) or not str(self.hdr).strip():
                raise _bad("hdr", "a file name (.hdr, .exr or .tif)", self.hdr)
            _set(self, "hdr", str(self.hdr))

    @property
    def kind(self) -> str | None:
        """``fuse`` (exposure brackets), ``burst`` or ``None`` (no merge)."""
        if self.merge is None:
            return None
        return "fuse" if self.merge in FUSE_MERGES else "burst"

    def changed(self) -> list[str]:
        """Names of the fields that differ from their defaults."""
        default = Frames()
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)]


GROUPS: tuple[type, ...] = (Choice, Params, Execution, Output)
#: Every part of a request: :data:`GROUPS` (one photo at a time) and :class:`Frames`.
ALL_GROUPS: tuple[type, ...] = (*GROUPS, Frames)
#: The common parameters (every :class:`Params` field but ``options`` and ``raw_develop``,
#: which the runner decides): a method taking one of these names gets it from
#: ``--<name>``, not from ``--option``.
COMMON_PARAMS: tuple[str, ...] = tuple(f.name for f in fields(Params)
                                       if f.name not in ("options", "raw_develop"))


@dataclass(frozen=True)
class Request:
    """The whole request: the four parts above, each validated when made."""

    choice: Choice = field(default_factory=Choice)
    params: Params = field(default_factory=Params)
    execution: Execution = field(default_factory=Execution)
    output: Output = field(default_factory=Output)
    frames: Frames = field(default_factory=Frames)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, untrusted: bool = False,
                     source: str = "options", frames: bool = False) -> Request:
        """Build a request from flat ``name: value`` pairs (keyword arguments, a batch job, a
        web form). Unknown names are refused, naming the known ones. ``untrusted``: the
        values come from a network client, which may not name files on this machine (a
        kernel must be a spec, a model a shipped name) nor set execution options.
        ``frames``: the :class:`Frames` options are known too (multi-frame entry points)."""
        groups = ALL_GROUPS if frames else GROUPS
        names = {f.name: group for group in groups for f in fields(group)}
        unknown = sorted(k for k in values if k not in names)
        if unknown:
            raise InvalidParameterError(
                f"{source}: unknown option(s) {', '.join(unknown)}; known: "
                f"{', '.join(names)}"
            )
        if untrusted:
            _check_untrusted(values, source)
        parts: dict[type, dict[str, Any]] = {group: {} for group in ALL_GROUPS}
        for key, value in values.items():
            parts[names[key]][key] = value
        return cls(*(group(**parts[group]) for group in ALL_GROUPS))

    def to_dict(self, *, changed_only: bool = False) -> dict[str, Any]:
        """Flat ``name: value`` (JSON-ready: arrays as lists, paths as strings);
        ``changed_only`` leaves out values equal to the defaults."""
        out: dict[str, Any] = {}
        for part in (self.choice, self.params, self.execution, self.output, self.frames):
            default = type(part)()
            for f in fields(part):
                value = getattr(part, f.name)
                if changed_only and _jsonable(value) == _jsonable(getattr(default, f.name)):
                    continue
                out[f.name] = _jsonable(value)
        return out

    def fingerprint(self) -> dict[str, Any]:
        """What decides an output (choice, params, output; not execution nor overwrite),
        JSON-ready, with
        the sha256 of every file it names (a weight, kernel or mask file), so that a change
        of that file's content changes the fingerprint."""
        values = {k: v for k, v in self.to_dict(changed_only=True).items()
                  if k not in {f.name for f in fields(Execution)} | {"overwrite", "accept_licence"}}
        for key in ("model", "kernel", "mask"):
            value = getattr(self.choice if key == "model" else self.params, key)
            if isinstance(value, (str, Path)) and Path(value).is_file():
                values[f"{key}_sha256"] = file_sha256(value)
        return values


def _check_untrusted(values: Mapping[str, Any], source: str) -> None:
    execution = {f.name for f in fields(Execution)} | {"overwrite", "suffix", "accept_licence",
                                                       "hdr"}
    given = sorted(k for k in values if k in execution)
    if given:
        raise InvalidParameterError(f"{source}: {', '.join(given)} cannot be set here")
    kernel = values.get("kernel")
    if kernel is not None and not (isinstance(kernel, str) and KERNEL_SPEC.fullmatch(kernel.strip())):
        raise InvalidParameterError(
            f"kernel must be 'gauss:SIGMA' or 'motion:LENGTH,ANGLE' (e.g. 'gauss:2.0'); got "
            f"{kernel!r}"
        )
    model = values.get("model")
    if model is not None:
        entry = zoo.find(model) if isinstance(model, str) else None
        pulled = entry is not None and zoo.is_pulled(entry) and not entry.needs_opt_in
        if not isinstance(model, str) or (find_card(model) is None and not pulled):
            raise InvalidParameterError(
                f"model must be the name of a shipped weight set or of a zoo model pulled on "
                f"this server (see /api/methods); got {model!r}"
            )
    if values.get("options"):
        raise InvalidParameterError(f"{source}: method options cannot be set here")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, np.ndarray):
        return {"array_sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    name = getattr(value, "sha256", None) or getattr(value, "name", None)
    return f"{type(value).__name__}:{name}" if name is not None else repr(value)


def parse_method_options(items: list[str] | tuple[str, ...]) -> dict[str, object]:
    """``["iterations=250", "mode=fast"]`` -> ``{"iterations": 250, "mode": "fast"}``: values
    are Python literals (numbers, True/False, None, quoted strings) or else plain strings."""
    parsed: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InvalidParameterError(
                f"--option {item!r}: expected KEY=VALUE, e.g. --option iterations=250")
        try:
            parsed[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            parsed[key] = text.strip()
    return parsed


__all__ = [
    "ALIGNS",
    "ALL_GROUPS",
    "AUTO",
    "BURST_MERGES",
    "COMMON_PARAMS",
    "DEFAULT_MODEL_TILE",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "FORMATS",
    "FUSE_MERGES",
    "GROUPS",
    "RAW_DEVELOP",
    "TASKS",
    "Choice",
    "Execution",
    "Frames",
    "Output",
    "Params",
    "Request",
    "check_device",
    "check_sigma",
    "parse_method_options",
    "parse_times",
]
