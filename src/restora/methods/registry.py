"""The one registry of restoration methods.

A method is a function ``fn(image, *, <options>) -> image`` on HWC float32 arrays in
[0, 1] (C = 1 or 3), registered with metadata saying what it does and what it needs. Its
keyword-only parameters are its options; the common ones use the same names everywhere
(:data:`restora.options.COMMON_PARAMS`):

* ``sigma``: Gaussian noise std in 8-bit units (sigma=25 means 25/255), ``None`` = estimate.
* ``scale``: integer upscaling factor.
* ``kernel``: 2-D blur kernel (float, sums to 1).
* ``quality``: JPEG quality 1..100 of the input.
* ``seed``: integer for stochastic methods.
* ``mask``: HW bool array, True = pixels to fill (inpainting).

Two keyword parameters are not options but context the runner passes: ``task`` (for a
method serving several tasks, e.g. plug-and-play) and ``execution`` (a
:class:`restora.options.Execution`, for methods that run a network: device, precision).

Registration is explicit and ordered; a duplicate name raises. Adding a method means one
``@register_method(...)`` in one file plus its test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import numpy as np

from restora.errors import (
    DuplicateMethodError,
    InvalidParameterError,
    ShapeError,
    UnknownMethodError,
)
from restora.estimate import estimate_sigma
from restora.options import AUTO, COMMON_PARAMS, DEFAULT_TILE, TASKS, Execution

#: Tasks a method can do (every task but ``auto``, which chooses methods itself).
METHOD_TASKS = tuple(t for t in TASKS if t != AUTO)
#: Keyword parameters the runner fills in (not options a caller sets).
CONTEXT = ("task", "execution")
#: Tasks on which a missing noise level is estimated from the image (elsewhere, e.g. on an
#: inpainting input with holes or a Bayer mosaic, the method's own default applies).
SIGMA_TASKS = ("denoise", "deblur")

ImageFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class MethodInfo:
    """Metadata for one registered method.

    task: its main task; tasks: every task it does (``task`` first; it receives ``task``
        when it does several).
    channels: channel counts accepted (1 = gray, 3 = RGB).
    needs_sigma: the method uses a noise level; when the caller gives none it is estimated.
    needs_kernel / needs_mask: a blur kernel / an inpainting mask is required.
    scales: integer factors supported by an upscaler (empty: any, or not an upscaler).
    halo: pixels of context each output pixel depends on (tiling overlap hint); 0 = pointwise,
        -1 = global (must not be tiled).
    options: its keyword options (common ones and its own). context: the runner's keywords
        it takes (``task``, ``execution``). runner: the
        :class:`~restora.models.inference.InferenceRunner` of a weight file's method.
    """

    name: str
    task: str
    fn: ImageFn
    description: str
    channels: tuple[int, ...] = (1, 3)
    needs_sigma: bool = False
    needs_kernel: bool = False
    needs_mask: bool = False
    scales: tuple[int, ...] = ()
    halo: int = 16
    citation: str | None = None
    options: tuple[str, ...] = field(default=())
    tasks: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    runner: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", (self.task, *(t for t in self.tasks if t != self.task)))

    def does(self, task: str) -> bool:
        return task in self.tasks

    @property
    def own_options(self) -> tuple[str, ...]:
        """Options that are the method's own (``--option KEY=VALUE``), not common ones."""
        return tuple(o for o in self.options if o not in COMMON_PARAMS)

    @property
    def uses_network(self) -> bool:
        """Runs a network (a weight file, or a method taking an ``execution``)."""
        return self.runner is not None or "execution" in self.context

    def __call__(self, image: np.ndarray, **options: object) -> np.ndarray:
        """Run the method, passing only the options it declares; unknown options raise."""
        return run_method(self, image, **options)


class MethodRegistry:
    """Ordered name -> :class:`MethodInfo` map; duplicates raise."""

    def __init__(self) -> None:
        self._methods: dict[str, MethodInfo] = {}

    def add(self, info: MethodInfo) -> MethodInfo:
        if info.name in self._methods:
            raise DuplicateMethodError(f"a method named {info.name!r} is already registered")
        wrong = [t for t in info.tasks if t not in METHOD_TASKS]
        if wrong:
            raise InvalidParameterError(
                f"method {info.name!r}: task {wrong[0]!r} not in {METHOD_TASKS}")
        self._methods[info.name] = info
        return info

    def get(self, name: str) -> MethodInfo:
        try:
            return self._methods[name]
        except KeyError:
            known = ", ".join(self._methods) or "(none)"
            raise UnknownMethodError(f"no method named {name!r}; registered: {known}") from None

    def list(self, task: str | None = None, pattern: str = "*") -> list[MethodInfo]:
        return [
            m
            for m in self._methods.values()
            if (task is None or m.does(task)) and fnmatch(m.name, pattern)
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[MethodInfo]:
        return iter(self._methods.values())

    def __len__(self) -> int:
        return len(self._methods)


REGISTRY = MethodRegistry()


def register_method(
    name: str,
    *,
    task: str | tuple[str, ...],
    description: str,
    channels: tuple[int, ...] = (1, 3),
    needs_sigma: bool = False,
    needs_kernel: bool = False,
    needs_mask: bool = False,
    scales: tuple[int, ...] = (),
    halo: int = 16,
    citation: str | None = None,
    registry: MethodRegistry | None = None,
) -> Callable[[ImageFn], ImageFn]:
    """Decorator: register ``fn`` under ``name``; its keyword-only parameters are its options
    (``task`` and ``execution`` are context the runner passes, see the module doc). ``task``:
    one task, or several (the first is the main one)."""
    tasks = (task,) if isinstance(task, str) else tuple(task)

    def decorate(fn: ImageFn) -> ImageFn:
        params = inspect.signature(fn).parameters
        keywords = [p.name for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        (REGISTRY if registry is None else registry).add(
            MethodInfo(
                name=name,
                task=tasks[0],
                tasks=tasks,
                fn=fn,
                description=description,
                channels=channels,
                needs_sigma=needs_sigma,
                needs_kernel=needs_kernel,
                needs_mask=needs_mask,
                scales=scales,
                halo=halo,
                citation=citation,
                options=tuple(k for k in keywords if k not in CONTEXT),
                context=tuple(k for k in keywords if k in CONTEXT),
            )
        )
        return fn

    return decorate


def run_method(info: MethodInfo, image: np.ndarray, **options: object) -> np.ndarray:
    """Call ``info.fn`` on an HWC float32 [0,1] image (or, for a network, an NHWC stack of
    tiles) with validated options.

    Options that are ``None`` are dropped (the method's default applies). An option the
    method does not take raises :class:`InvalidParameterError`; the context keywords
    ``task`` and ``execution`` are passed only to methods that take them. A sigma-needing
    method called without ``sigma`` on a :data:`SIGMA_TASKS` task gets the noise level
    estimated on this image (the runner estimates it once per photo before tiling; this is
    for direct calls).
    """
    if image.ndim not in (3, 4) or image.shape[-1] not in info.channels \
            or (image.ndim == 4 and info.runner is None):
        raise ShapeError(
            f"method {info.name!r} takes HWC images with C in {info.channels}; got shape "
            f"{tuple(image.shape)}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    context = {k: given.pop(k) for k in CONTEXT if k in given}
    unknown = [k for k in given if k not in info.options]
    if unknown:
        raise InvalidParameterError(
            f"method {info.name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(info.options) or 'no options'}"
        )
    if info.needs_sigma and "sigma" in info.options and "sigma" not in given \
            and context.get("task", info.task) in SIGMA_TASKS:
        given["sigma"] = estimate_sigma(image)
    if info.scales and given.get("scale") is not None and int(given["scale"]) not in info.scales:
        raise InvalidParameterError(
            f"method {info.name!r} supports scale {'/'.join(map(str, info.scales))}; got "
            f"{given['scale']}"
        )
    if info.runner is not None:
        return info.runner(image, **given)
    kwargs = {k: v for k, v in given.items() if k in info.options}
    kwargs.update({k: v for k, v in context.items() if k in info.context})
    return info.fn(image, **kwargs)


def tiling_for(info: MethodInfo, execution: Execution, height: int, width: int, *,
               scale: int = 1) -> dict[str, Any]:
    """The tiling of method ``info`` on a ``height x width`` image under ``execution``: the
    keyword arguments of :func:`~restora.pipeline.run_tiled` / ``stream_tiled`` (tile,
    overlap, scale, multiple, batch). The overlap is at least four times the method's reach;
    the automatic tile comes from the network's runner (``DEFAULT_TILE`` for other methods);
    methods with reach -1 run whole."""
    runner = info.runner
    overlap = execution.overlap if info.halo < 0 else max(execution.overlap, 4 * info.halo)
    tile = execution.tile
    if tile == AUTO:
        tile = DEFAULT_TILE if runner is None else runner.tile_for(height, width, overlap=overlap)
    if info.halo < 0:
        tile = None
    return {"tile": tile, "overlap": overlap, "scale": scale,
            "batch": execution.batch if runner is not None else 1,  # networks take NHWC stacks
            "multiple": 1 if runner is None else runner.model.size_multiple}
