"""Seeded synthetic noise: additive white Gaussian, and Poisson-Gaussian (shot + read) noise.

Images are HW/HWC floats in [0, 1]; ``sigma`` and ``read_sigma`` are in 8-bit units
(``sigma=25`` adds noise of standard deviation 25/255), as the denoising papers state them.
"""

from __future__ import annotations

import numpy as np

from restora.degrade._common import check_image, check_number
from restora.errors import InvalidParameterError


def _float_image(image: np.ndarray) -> np.ndarray:
    arr = check_image(image)
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidParameterError(
            f"image: noise is added to float images in [0, 1], got dtype {arr.dtype}; "
            "convert first, e.g. image.astype(np.float32) / 255."
        )
    return arr


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def add_gaussian_noise(
    image: np.ndarray,
    sigma: float,
    *,
    seed: int | np.random.Generator | None = None,
    clip: bool = False,
) -> np.ndarray:
    """Return ``image + n`` with ``n ~ N(0, (sigma/255)^2)`` i.i.d. per pixel and channel.

    image: HW or HWC float in [0, 1] (not modified). sigma: >= 0, 8-bit units.
    seed: int, Generator or None (``np.random.default_rng(seed)``); the same seed gives the
        same noise. clip: clip the result to [0, 1] (off by default, as in the papers' AWGN).
    Returns float32 of the input's shape. Raises InvalidParameterError for a bad sigma.
    """
    arr = _float_image(image)
    sigma = check_number(sigma, name="sigma", minimum=0.0)
    noise = _rng(seed).standard_normal(arr.shape) * (sigma / 255.0)
    out = arr.astype(np.float64) + noise
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)


def add_poisson_gaussian_noise(
    image: np.ndarray,
    *,
    photons: float,
    read_sigma: float = 0.0,
    seed: int | np.random.Generator | None = None,
    clip: bool = True,
) -> np.ndarray:
    """Signal-dependent noise: ``y = Poisson(photons * x) / photons + N(0, (read_sigma/255)^2)``.

    Model (Foi et al., "Practical Poissonian-Gaussian noise modeling and fitting for
    single-image raw-data", IEEE TIP 2008): a pixel of value x in [0, 1] collects on average
    ``photons * x`` electrons (``photons`` electrons at white level 1.0); shot noise is
    Poisson, read noise Gaussian. So ``E[y] = x`` and
    ``Var[y] = x / photons + (read_sigma / 255)^2``. Negative inputs count as 0 photons.

    image: HW or HWC float in [0, 1]. photons: > 0 (fewer = noisier). read_sigma: >= 0, 8-bit
    units. clip: clip to [0, 1] (default True: a sensor cannot record outside its range).
    Returns float32 of the input's shape.
    """
    arr = _float_image(image)
    photons = check_number(photons, name="photons", minimum=0.0, strict=True)
    read_sigma = check_number(read_sigma, name="read_sigma", minimum=0.0)
    rng = _rng(seed)
    x = np.clip(arr.astype(np.float64), 0.0, None)
    out = rng.poisson(photons * x) / photons
    if read_sigma > 0:
        out = out + rng.standard_normal(arr.shape) * (read_sigma / 255.0)
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)
