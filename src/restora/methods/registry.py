"""The one registry of restoration methods.

A method is a function ``fn(image, *, <options>) -> image`` on HWC float32 arrays in
[0, 1] (C = 1 or 3), registered with metadata saying what it does and what it needs.
Options use the same names everywhere:

* ``sigma``: Gaussian noise std in 8-bit units (sigma=25 means 25/255), ``None`` = estimate.
* ``scale``: integer upscaling factor.
* ``kernel``: 2-D blur kernel (float, sums to 1).
* ``quality``: JPEG quality 1..100 of the input.
* ``seed``: integer for stochastic methods.

Registration is explicit and ordered; a duplicate name raises. Adding a method means one
``@register_method(...)`` in one file plus its test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch

import numpy as np

from restora.errors import DuplicateMethodError, InvalidParameterError, UnknownMethodError

TASKS = ("denoise", "upscale", "deblock", "deblur")
# Options restore/eval pass under their own names (--sigma, --scale, ...); anything else a
# method takes is its own option (--option KEY=VALUE).
COMMON_OPTIONS = ("sigma", "scale", "kernel", "quality", "seed")

ImageFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class MethodInfo:
    """Metadata for one registered method.

    channels: channel counts accepted (1 = gray, 3 = RGB).
    needs_sigma: the method uses a noise level; when the caller gives none it is estimated.
    scales: integer factors supported by an upscaler (empty for other tasks).
    halo: pixels of context each output pixel depends on (tiling overlap hint); 0 = pointwise,
        -1 = global (must not be tiled).
    """

    name: str
    task: str
    fn: ImageFn
    description: str
    channels: tuple[int, ...] = (1, 3)
    needs_sigma: bool = False
    needs_kernel: bool = False
    scales: tuple[int, ...] = ()
    halo: int = 16
    citation: str | None = None
    options: tuple[str, ...] = field(default=())

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
        if info.task not in TASKS:
            raise InvalidParameterError(f"method {info.name!r}: task {info.task!r} not in {TASKS}")
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
            if (task is None or m.task == task) and fnmatch(m.name, pattern)
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
    task: str,
    description: str,
    channels: tuple[int, ...] = (1, 3),
    needs_sigma: bool = False,
    needs_kernel: bool = False,
    scales: tuple[int, ...] = (),
    halo: int = 16,
    citation: str | None = None,
    registry: MethodRegistry | None = None,
) -> Callable[[ImageFn], ImageFn]:
    """Decorator: register ``fn`` under ``name``; its keyword-only parameters are its options."""

    def decorate(fn: ImageFn) -> ImageFn:
        params = inspect.signature(fn).parameters
        options = tuple(p.name for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)
        (REGISTRY if registry is None else registry).add(
            MethodInfo(
                name=name,
                task=task,
                fn=fn,
                description=description,
                channels=channels,
                needs_sigma=needs_sigma,
                needs_kernel=needs_kernel,
                scales=scales,
                halo=halo,
                citation=citation,
                options=options,
            )
        )
        return fn

    return decorate


def check_sigma(sigma: object, *, method: str, required: str = "") -> float:
    """Validate a noise level in 8-bit units (finite, >= 0) and return it as a float.

    ``required`` is appended to the message when ``sigma`` is missing (how to get one).
    """
    import math

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


def run_method(info: MethodInfo, image: np.ndarray, **options: object) -> np.ndarray:
    """Call ``info.fn`` on an HWC float32 [0,1] image with validated options.

    Options that are ``None`` are dropped (the method's default applies). An option the
    method does not take raises :class:`InvalidParameterError`, except the generic
    execution options ``tile`` and ``device``, which callers may pass to any method.
    A sigma-needing method called without ``sigma`` gets the estimated noise level.
    """
    if image.ndim != 3 or image.shape[2] not in info.channels:
        from restora.errors import ShapeError

        raise ShapeError(
            f"method {info.name!r} takes HWC images with C in {info.channels}; got shape "
            f"{tuple(image.shape)}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in info.options and k not in ("tile", "device")]
    if unknown:
        raise InvalidParameterError(
            f"method {info.name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(info.options) or 'no options'}"
        )
    if info.needs_sigma and "sigma" in info.options and "sigma" not in given:
        from restora.methods.noise_level import estimate_sigma

        given["sigma"] = estimate_sigma(image)
    if info.scales and given.get("scale") is not None and int(given["scale"]) not in info.scales:
        raise InvalidParameterError(
            f"method {info.name!r} supports scale {info.scales}; got {given['scale']}"
        )
    kwargs = {k: v for k, v in given.items() if k in info.options}
    return info.fn(image, **kwargs)


def get_method(name: str) -> MethodInfo:
    """Look up a registered method by name (importing the built-in methods first)."""
    import restora.methods  # noqa: F401  (registers the built-ins)

    return REGISTRY.get(name)


def list_methods(task: str | None = None, pattern: str = "*") -> list[MethodInfo]:
    """Registered methods, in registration order, optionally filtered by task and glob."""
    import restora.methods  # noqa: F401

    return REGISTRY.list(task=task, pattern=pattern)
