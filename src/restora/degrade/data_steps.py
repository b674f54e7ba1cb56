"""Data steps for half-quadratic splitting: ``x = argmin ||y - A x||^2 + mu ||x - z||^2``.

The minimiser solves ``(A^T A + mu I) x = A^T y + mu z``. :func:`make_data_step` picks an
exact closed form where one exists and conjugate gradient otherwise:

* circular blur: one division in the Fourier domain;
* circular blur then ``s``-fold decimation (``x[::s, ::s]``): the closed form of Zhang et
  al., "Deep Unfolding Network for Image Super-Resolution" (USRNet, CVPR 2020), Eq. 7,
  also used by DPIR (Zhang et al., TPAMI 2021); needs H and W divisible by ``s``;
* masks (inpainting) and Bayer mosaics: diagonal, one division per pixel;
* any other :class:`~restora.degrade.operators.LinearOperator` (reflect/zero/valid blur,
  MATLAB resize, compositions): conjugate gradient, warm-started at ``z``.

Arrays are float64 HW or HWC; ``mu > 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from restora.degrade.operators import (
    BlurOperator,
    ComposeOperator,
    DownsampleOperator,
    LinearOperator,
    MaskOperator,
    MosaicOperator,
    Shape,
    _as_float,
)
from restora.errors import InvalidParameterError, ShapeError

def psf2otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Full 2-D FFT of ``kernel`` wrapped onto an ``shape`` grid, origin (kh//2, kw//2) at (0, 0).

    Wrapping (not cropping) keeps it exact for kernels larger than the image, matching
    :class:`BlurOperator` with ``boundary="circular"``.
    """
    kh, kw = kernel.shape
    h, w = shape
    psf = np.zeros((h, w))
    rows = (np.arange(kh) - kh // 2) % h
    cols = (np.arange(kw) - kw // 2) % w
    np.add.at(psf, (rows[:, None], cols[None, :]), kernel)
    return np.fft.fft2(psf)


def _check_mu(mu: float) -> float:
    m = float(mu)
    if not np.isfinite(m) or m <= 0:
        raise InvalidParameterError(f"data step: mu must be a finite number > 0, got {mu!r}.")
    return m


def _fft(a: np.ndarray) -> np.ndarray:
    return np.fft.fft2(a, axes=(0, 1))


def _ifft(a: np.ndarray) -> np.ndarray:
    return np.real(np.fft.ifft2(a, axes=(0, 1)))


DataStep = Callable[[np.ndarray, float], np.ndarray]


def make_data_step(
    operator: LinearOperator,
    y: np.ndarray,
    *,
    in_shape: Shape | None = None,
    cg_tol: float = 1e-6,
    cg_maxiter: int = 300,
) -> DataStep:
    """Return ``step(z, mu) -> x`` minimising ``||y - A x||^2 + mu ||x - z||^2`` (float64).

    operator: the degradation ``A``; y: its observed output (HW or HWC); in_shape: shape of
    ``x`` (default ``operator.input_shape(y.shape)``). Precomputes what does not depend on
    ``z`` and ``mu`` (FFTs, ``A^T y``). ``cg_tol``: relative residual for the CG fallback.
    Raises ShapeError when ``y`` does not fit the operator.
    """
    y = _as_float(y, "y")
    shape = tuple(in_shape) if in_shape is not None else operator.input_shape(y.shape)
    if len(shape) == 2 and y.ndim == 3:
        shape = shape + (y.shape[2],)
    if tuple(operator.output_shape(shape)) != y.shape:
        raise ShapeError(
            f"data step: y has shape {y.shape} but {type(operator).__name__} maps an x of shape "
            f"{shape} to {operator.output_shape(shape)}."
        )
    aty = operator.A_adjoint(y, in_shape=shape)

    if isinstance(operator, BlurOperator) and operator.boundary == "circular":
        return _fourier_step(operator.kernel, y, shape)
    down = _circular_blur_then(operator, DownsampleOperator)
    if down is not None and shape[0] % down[1].factor == 0 and shape[1] % down[1].factor == 0:
        return _sr_step(down[0], down[1].factor, aty)
    masked = _circular_blur_then(operator, MaskOperator)
    if masked is not None:
        return _masked_fourier_step(masked[0], masked[1], aty, shape, cg_tol, cg_maxiter)
    if isinstance(operator, (MaskOperator, MosaicOperator)):
        ata = operator.A_adjoint(operator.A(np.ones(shape)), in_shape=shape)

        def diagonal(z: np.ndarray, mu: float) -> np.ndarray:
            m = _check_mu(mu)
            return (aty + m * _as_float(z, "z")) / (ata + m)

        return diagonal
    return _cg_step(operator, aty, shape, cg_tol, cg_maxiter)


def _circular_blur_then(operator: LinearOperator, kind: type) -> tuple[np.ndarray, Any] | None:
    """(kernel, second operator) when ``operator`` is a circular blur followed by a ``kind``."""
    ops = getattr(operator, "ops", ())
    if (isinstance(operator, ComposeOperator) and len(ops) == 2
            and isinstance(ops[0], BlurOperator) and ops[0].boundary == "circular"
            and isinstance(ops[1], kind)):
        return ops[0].kernel, ops[1]
    return None


def _fourier_step(kernel: np.ndarray, y: np.ndarray, shape: Shape) -> DataStep:
    otf = psf2otf(kernel, (shape[0], shape[1]))
    if len(shape) == 3:
        otf = otf[:, :, None]
    num = np.conj(otf) * _fft(y)
    den = np.abs(otf) ** 2

    def step(z: np.ndarray, mu: float) -> np.ndarray:
        m = _check_mu(mu)
        return _ifft((num + m * _fft(_as_float(z, "z"))) / (den + m))

    return step


def _masked_fourier_step(kernel: np.ndarray, mask: MaskOperator, aty: np.ndarray,
                         shape: Shape, tol: float, maxiter: int) -> DataStep:
    """Circular blur seen through a mask (deblurring with unknown boundaries: the estimate
    is larger than the photo by the kernel, and only the observed pixels constrain it).
    Conjugate gradient with FFT blurs, preconditioned by the mask-free Fourier solution, so
    it converges in a few iterations."""
    from scipy import fft

    h, w = shape[0], shape[1]
    otf = psf2otf(kernel, (h, w))[:, : w // 2 + 1]  # the real FFT's half spectrum
    if len(shape) == 3:
        otf = otf[:, :, None]
    weight = mask.A(np.ones(shape))
    power = np.abs(otf) ** 2
    share = float(weight.mean())

    def rfft(a: np.ndarray) -> np.ndarray:
        return fft.rfft2(a, axes=(0, 1), workers=-1)

    def irfft(a: np.ndarray) -> np.ndarray:
        return fft.irfft2(a, s=(h, w), axes=(0, 1), workers=-1)

    def step(z: np.ndarray, mu: float) -> np.ndarray:
        m = _check_mu(mu)
        z = _as_float(z, "z")
        b = aty + m * z

        def normal(v: np.ndarray) -> np.ndarray:
            return irfft(np.conj(otf) * rfft(weight * irfft(otf * rfft(v)))) + m * v

        def precondition(r: np.ndarray) -> np.ndarray:
            return irfft(rfft(r) / (share * power + m))

        return conjugate_gradient(normal, b, z, tol=tol, maxiter=maxiter, precondition=precondition)

    return step


def _blocks_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean of the ``s x s`` blocks of size (H/s, W/s) tiling ``a`` (USRNet ``splits``)."""
    h, w = a.shape[:2]
    return a.reshape((s, h // s, s, w // s) + a.shape[2:]).mean(axis=(0, 2))


def _sr_step(kernel: np.ndarray, s: int, aty: np.ndarray) -> DataStep:
    """USRNet Eq. 7: ``x = (FR - conj(FK) * tile(mean_s(FK FR) / (mean_s|FK|^2 + mu))) / mu``."""
    h, w = aty.shape[:2]
    otf = psf2otf(kernel, (h, w))
    if aty.ndim == 3:
        otf = otf[:, :, None]
    fbfy = _fft(aty)  # = conj(FK) * FFT(upsample(y)): aty is K^T D^T y
    inv_w = _blocks_mean(np.abs(otf) ** 2, s)
    reps = (s, s) + (1,) * (aty.ndim - 2)

    def step(z: np.ndarray, mu: float) -> np.ndarray:
        m = _check_mu(mu)
        fr = fbfy + m * _fft(_as_float(z, "z"))
        fbr = _blocks_mean(otf * fr, s)
        fx = (fr - np.conj(otf) * np.tile(fbr / (inv_w + m), reps)) / m
        return _ifft(fx)

    return step


def _cg_step(
    operator: LinearOperator, aty: np.ndarray, shape: Shape, tol: float, maxiter: int
) -> DataStep:
    def step(z: np.ndarray, mu: float) -> np.ndarray:
        m = _check_mu(mu)
        z = _as_float(z, "z")
        b = aty + m * z

        def normal(v: np.ndarray) -> np.ndarray:
            return operator.A_adjoint(operator.A(v), in_shape=shape) + m * v

        return conjugate_gradient(normal, b, z, tol=tol, maxiter=maxiter)

    return step


def conjugate_gradient(
    apply: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    x0: np.ndarray,
    *,
    tol: float = 1e-6,
    maxiter: int = 300,
    precondition: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Solve ``apply(x) = b`` for a symmetric positive definite ``apply`` (arrays any shape).

    precondition: applies an approximate inverse of ``apply`` (symmetric positive definite),
    e.g. a Fourier-domain division (preconditioned CG). Stops when
    ``||b - apply(x)|| <= tol * ||b||`` or after ``maxiter`` iterations.
    """
    solve = precondition if precondition is not None else (lambda r: r)
    x = np.array(x0, dtype=np.float64, copy=True)
    r = b - apply(x)
    zr = solve(r)
    p = zr.copy()
    rz = float(np.vdot(r, zr))
    stop = (tol * float(np.linalg.norm(b))) ** 2
    for _ in range(int(maxiter)):
        if float(np.vdot(r, r)) <= stop:
            break
        ap = apply(p)
        alpha = rz / float(np.vdot(p, ap))
        x += alpha * p
        r -= alpha * ap
        zr = solve(r)
        rz_new = float(np.vdot(r, zr))
        p = zr + (rz_new / rz) * p
        rz = rz_new
    return x


def data_step(
    operator: LinearOperator,
    y: np.ndarray,
    z: np.ndarray,
    mu: float,
    *,
    cg_tol: float = 1e-6,
    cg_maxiter: int = 300,
) -> np.ndarray:
    """One-shot ``argmin_x ||y - A x||^2 + mu ||x - z||^2`` (see :func:`make_data_step`)."""
    z = _as_float(z, "z")
    return make_data_step(operator, y, in_shape=z.shape, cg_tol=cg_tol, cg_maxiter=cg_maxiter)(
        z, mu
    )


__all__ = [
    "conjugate_gradient",
    "data_step",
    "make_data_step",
    "psf2otf",
]
