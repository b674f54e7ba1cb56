"""Blur kernels: Gaussian, linear motion, loading from files, and a one-string spec parser.

Every kernel is a 2-D float64 array that sums to 1. Its origin (the pixel that stays put under
:func:`restora.degrade.blur`) is at index ``(kh // 2, kw // 2)``: the centre for odd sizes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from restora.degrade._common import check_number
from restora.errors import ImageError, InvalidParameterError

#: Largest kernel side (pixels) restora builds or accepts: a blur wider than this is not a
#: deblurring problem (and a spec like ``gauss:3000`` would otherwise ask for gigabytes).
MAX_KERNEL_SIZE = 255


def _check_size(height: int, width: int, what: str) -> None:
    if max(height, width) > MAX_KERNEL_SIZE:
        raise InvalidParameterError(
            f"{what}: a {height}x{width} kernel is larger than the {MAX_KERNEL_SIZE}x"
            f"{MAX_KERNEL_SIZE} restora accepts; use a smaller blur"
        )


def check_kernel(kernel: object, *, method: str) -> np.ndarray:
    """A blur kernel for ``method``, checked (finite 2-D array, positive sum, at most
    :data:`MAX_KERNEL_SIZE` a side) and normalised to sum 1 (float64).

    Raises :class:`InvalidParameterError` naming the method when it is missing or bad.
    """
    if kernel is None:
        raise InvalidParameterError(
            f"method {method!r} is non-blind: it needs kernel=<2-D blur kernel> (the blur the "
            "image went through), e.g. restora.degrade.gaussian_kernel(1.6) or load_kernel(...)"
        )
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)):
        raise InvalidParameterError(
            f"method {method!r}: kernel must be a finite 2-D array; got shape {np.shape(kernel)}"
        )
    _check_size(*k.shape, f"method {method!r}")
    total = k.sum()
    if total <= 0:
        raise InvalidParameterError(
            f"method {method!r}: kernel must have a positive sum (it is normalised to 1); "
            f"got sum {total:g}"
        )
    return k / total


def _normalised(k: np.ndarray, *, path: Path | None = None) -> np.ndarray:
    k = np.asarray(k)  # shape and type checked before any float64 copy is made
    if k.dtype.kind not in "biuf":
        raise ImageError(path, f"a blur kernel must hold real numbers, got dtype {k.dtype}.")
    if k.ndim != 2 or k.size == 0:
        raise ImageError(path, f"a blur kernel must be a 2-D array, got shape {k.shape}.")
    if max(k.shape) > MAX_KERNEL_SIZE:
        raise ImageError(path, f"the {k.shape[0]}x{k.shape[1]} kernel is larger than the "
                               f"{MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE} restora accepts.")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        raise ImageError(path, "the kernel contains NaN or infinite values.")
    total = k.sum()
    if not total > 0:
        raise ImageError(
            path, f"the kernel must have a positive sum to be normalised, got {total:g}."
        )
    return k / total


def gaussian_kernel(sigma: float, size: int | None = None) -> np.ndarray:
    """Isotropic Gaussian, ``exp(-r^2 / (2 sigma^2))`` sampled on a size x size grid, sum 1.

    sigma: standard deviation in pixels (> 0). size: odd or even positive int; default
    ``2 * ceil(3 sigma) + 1``. Sampled around the grid centre ``(size - 1) / 2``.
    """
    sigma = check_number(sigma, name="sigma", minimum=0.0, strict=True)
    if size is None:
        size = 2 * math.ceil(3 * sigma) + 1
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InvalidParameterError(f"size: expected a positive integer, got {size!r}.")
    _check_size(size, size, f"gaussian_kernel(sigma={sigma:g})")
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Linear motion blur: a line segment of ``length`` pixels through the centre, sum 1.

    angle_deg: direction of motion, counter-clockwise from the +x (column) axis as seen on
    screen (rows grow downwards): 0 is horizontal, 90 vertical, 45 runs from bottom-left to
    top-right. The line is antialiased by splatting 16 samples per pixel bilinearly, so the
    kernel is point-symmetric about its centre. Shape: square, odd, ``2 * ceil(length/2) + 1``.
    """
    length = check_number(length, name="length", minimum=1.0)
    angle = math.radians(check_number(angle_deg, name="angle_deg"))
    half = length / 2
    r = math.ceil(half)
    size = 2 * r + 1
    _check_size(size, size, f"motion_kernel(length={length:g})")
    n = max(2, int(math.ceil(length * 16)) + 1)
    t = np.linspace(-half, half, n)
    dx, dy = math.cos(angle), -math.sin(angle)  # screen: +angle goes up = row decreases
    cx = r + t * dx
    cy = r + t * dy
    # exact values on the centre line for the axis-aligned directions
    cx = np.where(np.abs(cx - np.round(cx)) < 1e-12, np.round(cx), cx)
    cy = np.where(np.abs(cy - np.round(cy)) < 1e-12, np.round(cy), cy)
    k = np.zeros((size + 1, size + 1))
    x0 = np.floor(cx).astype(int)
    y0 = np.floor(cy).astype(int)
    fx = cx - x0
    fy = cy - y0
    np.add.at(k, (y0, x0), (1 - fx) * (1 - fy))
    np.add.at(k, (y0, x0 + 1), fx * (1 - fy))
    np.add.at(k, (y0 + 1, x0), (1 - fx) * fy)
    np.add.at(k, (y0 + 1, x0 + 1), fx * fy)
    k = k[:size, :size]  # the extra row/column only ever gets zero weight
    return k / k.sum()


def _pick(arrays: dict[str, Any], key: str | None, path: Path) -> Any:
    if key is not None:
        if key not in arrays:
            raise ImageError(path, f"no variable {key!r}; the file holds {sorted(arrays)}.")
        return arrays[key]
    if len(arrays) != 1:
        raise ImageError(
            path, f"holds several variables {sorted(arrays)}; choose one with key= (or 'file#key')."
        )
    return next(iter(arrays.values()))


def _index(value: Any, index: int | None, path: Path) -> np.ndarray:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype == object or (arr.ndim == 3 and index is not None):
        flat = list(arr.ravel()) if arr.dtype == object else list(arr)
        if index is None:
            if len(flat) != 1:
                raise ImageError(
                    path,
                    f"holds {len(flat)} kernels; choose one with index= (0-based) or 'file#i'.",
                )
            index = 0
        if not 0 <= index < len(flat):
            raise ImageError(
                path, f"index {index} out of range: the file holds {len(flat)} kernels."
            )
        return np.asarray(flat[index])  # checked and made float64 by _normalised
    if index not in (None, 0):
        raise ImageError(path, f"index {index} given but the file holds a single kernel.")
    return arr


#: Most values a kernel file's array may declare (a stack of 64 kernels of the largest size);
#: checked from the file's header, before anything is decoded.
MAX_STORED_VALUES = 64 * MAX_KERNEL_SIZE * MAX_KERNEL_SIZE


def _check_stored(path: Path, shape: tuple[int, ...], name: str = "") -> None:
    """Refuse, from its header, an array no kernel (or kernel stack) could be."""
    values = math.prod(max(int(n), 0) for n in shape)
    if values > MAX_STORED_VALUES:
        where = f" {name!r}" if name else ""
        raise ImageError(path, f"the array{where} declares shape {tuple(int(n) for n in shape)} "
                               f"({values:,} values); a blur kernel (or a stack of them) holds at "
                               f"most {MAX_STORED_VALUES:,}. Nothing was decoded.")


def _npy_shape(fh: Any) -> tuple[int, ...]:
    version = np.lib.format.read_magic(fh)
    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
              else np.lib.format.read_array_header_2_0)
    return tuple(header(fh)[0])


def _mat_v5_shapes(path: Path) -> list[tuple[int, ...]]:
    """Shapes of the zlib-compressed variables of a MATLAB v5 file, from the first bytes of
    each (an uncompressed variable cannot be larger than the file). Empty for other files."""
    import struct
    import zlib

    shapes: list[tuple[int, ...]] = []
    with open(path, "rb") as fh:
        head = fh.read(128)
        if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
            return shapes
        order = "<" if head[126:128] == b"IM" else ">"
        while len(tag := fh.read(8)) == 8:
            kind, size = struct.unpack(order + "II", tag)
            if kind != 15:  # not miCOMPRESSED
                fh.seek(size, 1)
                continue
            inner = zlib.decompressobj().decompress(fh.read(min(size, 4096)), 64)
            fh.seek(size - min(size, 4096), 1)
            # miMATRIX tag (8), array-flags element (16), then the dimensions element
            if len(inner) < 32:
                continue
            dim_kind, dim_size = struct.unpack(order + "II", inner[24:32])
            if dim_kind & 0xFFFF0000:  # small data element: size in the upper half, data packed
                dim_size, data = dim_kind >> 16, inner[28:32]
            else:
                data = inner[32:32 + dim_size]
            count = min(dim_size, len(data)) // 4
            shapes.append(struct.unpack(order + "i" * count, data[:4 * count]))
    return shapes


def _load_npz(path: Path, key: str | None, index: int | None) -> np.ndarray:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as fh:
                    _check_stored(path, _npy_shape(fh), member[:-4])
    with np.load(path, allow_pickle=False) as z:
        return _index(_pick({n: z[n] for n in z.files}, key, path), index, path)


def _load_mat(path: Path, key: str | None, index: int | None) -> np.ndarray:
    try:
        import scipy.io

        for shape in _mat_v5_shapes(path):
            _check_stored(path, shape)
        data = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
        return _index(_pick(data, key, path), index, path)
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        pass
    import h5py

    with h5py.File(path, "r") as f:
        names = {k: None for k in f.keys() if not k.startswith("#")}
        name = key if key is not None else None
        if name is None:
            _pick(names, None, path)
            name = next(iter(names))
        elif name not in names:
            _pick(names, name, path)
        ds = f[name]
        _check_stored(path, ds.shape, name)
        if ds.dtype == object:  # cell array of references
            refs = [f[ref][()].T for ref in np.asarray(ds[()]).T.ravel()]  # MATLAB column order
            return _index(np.array(refs + [None], dtype=object)[:-1], index, path)
        return _index(np.asarray(ds[()]).T, index, path)  # HDF5 stores MATLAB arrays transposed


def load_kernel(
    path: str | Path, *, key: str | None = None, index: int | None = None
) -> np.ndarray:
    """Read a blur kernel from a file and normalise it to sum 1.

    .npy / .npz (``key`` picks the array), .png / .tif / .tiff / .bmp (a gray image; colour is
    rejected), .mat (MATLAB v5 via scipy, v7.3 via h5py; ``key`` picks the variable, ``index``
    (0-based) a kernel inside a cell array or an (n, h, w) stack).
    Raises ImageError naming the file when it is missing, unreadable or not a 2-D kernel.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageError(p, "kernel file not found.")
    ext = p.suffix.lower()
    try:
        if ext == ".npy":
            with open(p, "rb") as fh:
                _check_stored(p, _npy_shape(fh))
            k = _index(np.load(p, allow_pickle=False), index, p)
        elif ext == ".npz":
            k = _load_npz(p, key, index)
        elif ext == ".mat":
            k = _load_mat(p, key, index)
        elif ext in (".png", ".tif", ".tiff", ".bmp"):
            if ext in (".tif", ".tiff"):
                import tifffile

                with tifffile.TiffFile(p) as tif:
                    _check_stored(p, tif.series[0].shape)
                    k = np.asarray(tif.asarray())
            else:
                from PIL import Image

                with Image.open(p) as im:
                    if im.mode not in ("L", "I", "I;16", "F", "1"):
                        raise ImageError(p, f"a kernel image must be gray, got mode {im.mode}.")
                    if max(im.size) > MAX_KERNEL_SIZE:
                        raise ImageError(p, f"the {im.height}x{im.width} kernel is larger "
                                            f"than the {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE} "
                                            "restora accepts.")
                    k = np.asarray(im)
        else:
            raise ImageError(
                p, f"unknown kernel format {ext!r}; use .npy, .npz, .mat, .png, .tif or .bmp."
            )
    except ImageError:
        raise
    except Exception as exc:  # corrupt or foreign files: report them as this file's problem
        raise ImageError(p, f"could not read the kernel ({type(exc).__name__}: {exc}).") from None
    return _normalised(k, path=p)


_SPEC_HELP = (
    "expected 'gauss:SIGMA', 'gaussian:SIGMA[,SIZE]', 'motion:LENGTH,ANGLE_DEG', "
    "or a kernel file path (optionally 'file#key' or 'file#index')"
)


def parse_kernel(spec: str) -> np.ndarray:
    """Build a kernel from a short spec string (the CLI's ``--kernel``).

    "gauss:2.0" / "gaussian:2.0" (sigma, optional ",size"), "motion:15,30" (length, angle in
    degrees), or a path to a kernel file (see :func:`load_kernel`), optionally followed by
    ``#key`` (array/variable name) or ``#i`` (0-based index in a cell array/stack).
    Raises InvalidParameterError for a malformed spec, ImageError for an unreadable file.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(f"kernel: {_SPEC_HELP}; got {spec!r}.")
    text = spec.strip()
    m = re.fullmatch(r"(?i)(gauss|gaussian|motion)\s*:\s*(.*)", text)
    if m:
        kind = m.group(1).lower()
        parts = [p.strip() for p in m.group(2).split(",")]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise InvalidParameterError(f"kernel: {_SPEC_HELP}; got {spec!r}.") from None
        try:
            if kind in ("gauss", "gaussian"):
                if len(nums) == 1:
                    return gaussian_kernel(nums[0])
                if len(nums) == 2 and nums[1].is_integer():
                    return gaussian_kernel(nums[0], int(nums[1]))
            elif len(nums) == 2:
                return motion_kernel(nums[0], nums[1])
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"kernel {spec!r}: {exc}") from None
        raise InvalidParameterError(f"kernel: {_SPEC_HELP}; got {spec!r}.")
    path = Path(text)
    if path.is_file():
        return load_kernel(path)
    if "#" in text:
        file_part, sel = text.rsplit("#", 1)
        if Path(file_part).is_file():
            if sel.isdigit():
                return load_kernel(file_part, index=int(sel))
            return load_kernel(file_part, key=sel)
    if path.suffix.lower() in (".npy", ".npz", ".mat", ".png", ".tif", ".tiff", ".bmp"):
        raise ImageError(path, "kernel file not found.")
    raise InvalidParameterError(f"kernel: {_SPEC_HELP}; got {spec!r} (no such file either).")
