"""Decode image files into :class:`~restora.io.image.Photo`.

Formats are detected from content (magic bytes), never from the suffix alone. Decoders:
Pillow (JPEG, 8-bit PNG, WebP, BMP, TIFF fallback), OpenCV (16-bit PNG colour/alpha),
tifffile (TIFF: 8/16-bit, float), pillow-heif (HEIC/HEIF, extra ``heic``) and rawpy
(camera RAW, extra ``raw``). The header is checked against the pixel limit before any
pixel is decoded, and so is the memory the decode will need (pixels x channels x bytes
per sample through the float32 pipeline) against the decode budget.
"""

from __future__ import annotations

import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restora._optional import require
from restora.errors import (
    ImageReadError,
    InvalidParameterError,
    MissingExtraError,
    RestoraError,
    UnsupportedFormatError,
)
from restora.io import _meta
from restora.io._sniff import (
    check_decode,
    check_jpeg_data,
    check_png_data,
    png_header,
    png_metadata_chunks,
    resolve_max_pixels,
    sniff_format,
)
from restora.io.bridge import to_float32
from restora.io.image import Metadata, Photo

RAW_OUTPUTS = ("srgb", "linear")

#: Errors the decoders (Pillow, tifffile, our header parsers) raise on damaged data;
#: converted to one ImageReadError naming the file, by :func:`read_image` and
#: :func:`restora.io.image_info` alike.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
                 IndexError, KeyError, RuntimeError, TypeError, ZeroDivisionError,
                 OverflowError, AttributeError)


@dataclass
class _Decoded:
    data: np.ndarray  # HWC: uint8, uint16 or float32 (float already in [0, 1])
    has_alpha: bool
    bit_depth: int
    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    orientation: int | None = None  # the container's own tag (TIFF IFD0), before EXIF/XMP
    upright: bool = False  # the decoder already applied the orientation (HEIF, RAW)


def read_image(
    path: str | Path, *, max_pixels: int | None = None, raw_output: str = "srgb",
    samples: bool = False,
) -> Photo:
    """Read an image file as an upright :class:`Photo` (pixels HWC float32 in [0, 1]).

    ``samples=True`` keeps the decoded samples instead (pixels and alpha HWC uint8 or
    uint16, float32 for float TIFF; no float copy): for streaming a large photo tile by
    tile (:meth:`restora.run.Restorer.run_file`); convert with :func:`to_float32`.

    - Layout: gray -> C=1, RGB -> C=3; RGBA/LA -> pixels + ``alpha`` (HW1, untouched);
      palette -> RGB or RGBA (with transparency); CMYK -> RGB by Pillow's ICC-less naive
      formula R = (1 - C)(1 - K) (Adobe-inverted JPEG CMYK is handled by Pillow);
      TIFF associated (premultiplied) alpha is un-premultiplied.
    - Depth: 8-bit -> k/255 (``bit_depth=8``); 16-bit stays 16-bit: k/65535
      (``bit_depth=16``), so read -> write -> read is exact; 10/12-bit HEIF -> k/(2^b - 1)
      with ``bit_depth=16``; float TIFF -> clipped to [0, 1], NaN -> 0 (``bit_depth=32``).
    - Orientation: the TIFF tag, else EXIF, else XMP ``tiff:Orientation`` orientation is
      applied as ``PIL.ImageOps.exif_transpose`` does, and the EXIF/XMP are rewritten with
      orientation 1 (all other tags kept byte for byte). HEIF and RAW come upright from
      their decoders.
    - Metadata: EXIF, ICC profile and XMP packet are kept in ``photo.metadata``
      (none for RAW).
    - RAW (``.dng .cr2 .cr3 .nef .arw .raf .rw2 .orf``, needs the ``raw`` extra):
      ``raw_output="srgb"`` is LibRaw's 16-bit sRGB rendering (camera white balance, sRGB
      gamma 2.4/12.92, default auto-brightness); ``"linear"`` is linear sRGB primaries,
      gamma (1, 1), no auto-brightness.
    - Pixel limit: ``max_pixels`` (default ``$RESTORA_MAX_PIXELS`` or 200 megapixels) is
      checked on the header before decoding; larger images raise DecompressionBombError.
    - Memory budget: the bytes the decode and the float32 pipeline will allocate
      (:func:`restora.io._sniff.decode_bytes`) are checked on the header too, against
      ``$RESTORA_MAX_DECODE_BYTES`` or half the memory the process may use; above it,
      DecodeBudgetError (a DecompressionBombError). Running out of memory anyway is an
      ImageReadError, never a bare MemoryError.

    Raises ImageReadError (missing, empty, truncated/corrupt, not an image),
    UnsupportedFormatError, DecompressionBombError, MissingExtraError, InvalidParameterError.
    """
    path = Path(path)
    if raw_output not in RAW_OUTPUTS:
        raise InvalidParameterError(
            f"raw_output must be one of {RAW_OUTPUTS}, got {raw_output!r}"
        )
    limit = resolve_max_pixels(max_pixels)
    fmt = sniff_format(path)
    with decoder_errors(path, damaged=f"{fmt} data", doing=f"decode this {fmt} image"):
        if fmt == "PNG":
            decoded = _read_png(path, limit)
        elif fmt == "TIFF":
            decoded = _read_tiff(path, limit)
        elif fmt == "HEIF":
            decoded = _read_heif(path, limit)
        elif fmt == "RAW":
            decoded = _read_raw(path, limit, raw_output)
        else:
            decoded = _read_pillow(path, fmt, limit)
        return _to_photo(path, fmt, decoded, samples=samples)


@contextmanager
def decoder_errors(path: Path, *, damaged: str, doing: str) -> Iterator[None]:
    """Turn what a decoder raises on a damaged file (:data:`DECODE_ERRORS`, or running out
    of memory) into one ImageReadError naming the file: "truncated or corrupt <damaged>",
    "not enough memory to <doing>"."""
    try:
        yield
    except RestoraError:
        raise
    except MemoryError:
        raise ImageReadError(path, f"not enough memory to {doing}") from None
    except DECODE_ERRORS as exc:
        raise ImageReadError(
            path, f"truncated or corrupt {damaged} ({type(exc).__name__}: {_one_line(exc)})"
        ) from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _to_photo(path: Path, fmt: str, decoded: _Decoded, *, samples: bool = False) -> Photo:
    exif = _meta.normalize_exif(decoded.exif)
    xmp = decoded.xmp
    data = decoded.data
    if not decoded.upright:
        orientation = (
            decoded.orientation or _meta.exif_orientation(exif) or _meta.xmp_orientation(xmp)
        )
        data = _meta.apply_orientation(data, orientation)
    exif = _meta.exif_with_upright_orientation(exif)
    xmp = _meta.xmp_with_upright_orientation(xmp)
    if decoded.has_alpha:
        colour, alpha = data[..., :-1], data[..., -1:]
    else:
        colour, alpha = data, None
    convert = (lambda a: a if a.ndim == 3 else a[..., None]) if samples else to_float32
    pixels = convert(colour)
    alpha_f = None if alpha is None else convert(alpha)
    return Photo(
        pixels=pixels,
        alpha=alpha_f,
        bit_depth=decoded.bit_depth,
        metadata=Metadata(exif=exif, icc=decoded.icc or None, xmp=xmp or None),
        source=path,
        format=fmt,
    )


# --- Pillow ---------------------------------------------------------------------------------

_PIL_LIMIT_LOCK = threading.Lock()


def open_pillow(path: Path, fmt: str) -> Any:
    """``PIL.Image.open`` restricted to ``fmt``, with Pillow's own bomb check deferred to ours.

    Pillow refuses images above 2 x ``Image.MAX_IMAGE_PIXELS`` (~179 MP) on open; restora
    applies its own limit to the header size instead, so when Pillow refuses, the file is
    reopened (lazily, no pixels decoded) with Pillow's check switched off under a lock.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path, formats=[fmt])
        except Image.DecompressionBombError:
            with _PIL_LIMIT_LOCK:
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
                try:
                    return Image.open(path, formats=[fmt])
                finally:
                    Image.MAX_IMAGE_PIXELS = saved


def xmp_from_info(info: dict[str, Any]) -> bytes | None:
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return xmp or None


def _pillow_array(im: Any) -> tuple[np.ndarray, bool, int]:
    """(HWC array, has_alpha, bit_depth) from a loaded Pillow image."""
    mode = im.mode
    has_transparency = "transparency" in im.info
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode in ("P", "PA"):
        rgba = mode == "PA" or has_transparency or im.palette.mode == "RGBA"
        im = im.convert("RGBA" if rgba else "RGB")
    elif mode == "L" and has_transparency:
        im = im.convert("LA")
    elif mode == "RGB" and has_transparency:
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    mode = im.mode
    if mode in ("L", "RGB", "LA", "RGBA"):
        array = np.asarray(im)
        if array.ndim == 2:
            array = array[..., None]
        return array, mode.endswith("A"), 8
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)[..., None], False, 16
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)[..., None], False, 16
    if mode == "F":
        return _clean_float(np.asarray(im))[..., None], False, 32
    raise UnsupportedFormatError(None, f"Pillow pixel mode {mode!r} is not supported")


def _clean_float(array: np.ndarray) -> np.ndarray:
    array = np.nan_to_num(np.asarray(array, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(array, 0.0, 1.0)


def pillow_layout(mode: str) -> tuple[int, int]:
    """(channels, bytes per sample) a Pillow mode decodes to; a palette counts as RGBA
    (what it is converted to), 1-bit as one byte per pixel (Pillow's storage)."""
    from PIL import Image

    if mode in ("P", "PA"):
        return 4, 1
    if mode in ("I", "F"):
        return 1, 4
    if mode.startswith("I;16"):
        return 1, 2
    try:
        return Image.getmodebands(mode), 1
    except (KeyError, ValueError):
        return 4, 4


def _read_pillow(path: Path, fmt: str, limit: int) -> _Decoded:
    with open_pillow(path, fmt) as im:
        channels, sample_bytes = pillow_layout(im.mode)
        check_decode(path, im.size[0], im.size[1], limit, channels=channels,
                     sample_bytes=sample_bytes)
        if fmt == "JPEG":
            check_jpeg_data(path)
        im.load()
        info = dict(im.info)
        try:
            array, has_alpha, depth = _pillow_array(im)
        except UnsupportedFormatError as exc:
            raise UnsupportedFormatError(path, exc.problem) from None
    return _Decoded(
        data=array,
        has_alpha=has_alpha,
        bit_depth=depth,
        exif=info.get("exif"),
        icc=info.get("icc_profile"),
        xmp=xmp_from_info(info),
    )


# --- PNG ------------------------------------------------------------------------------------

#: Channels of the decoded array per PNG colour type (a palette becomes RGB or RGBA).
_PNG_DECODED_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}


def _read_png(path: Path, limit: int) -> _Decoded:
    width, height, depth, colour = png_header(path)
    check_decode(path, width, height, limit, channels=_PNG_DECODED_CHANNELS.get(colour, 4),
                 sample_bytes=2 if depth == 16 else 1)
    check_png_data(path, width, height, depth, colour)
    if depth != 16:
        return _read_pillow(path, "PNG", limit)
    # Pillow reduces 16-bit colour PNGs to 8 bits; OpenCV keeps 16 (BGR(A) order).
    import cv2

    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ImageReadError(path, "truncated or corrupt PNG data (16-bit decode failed)")
    if data.ndim == 2:
        data = data[..., None]
    elif data.shape[2] == 3:
        data = data[..., ::-1]
    else:
        data = data[..., [2, 1, 0, 3]]
    if colour in (0, 4):  # gray, gray + alpha: OpenCV replicates gray into B, G, R
        data = data[..., [0, 3]] if colour == 4 else data[..., :1]
    meta = png_metadata_chunks(path)
    return _Decoded(
        data=np.ascontiguousarray(data, dtype=np.uint16),
        has_alpha=colour in (4, 6),
        bit_depth=16,
        exif=meta.get("exif"),
        icc=meta.get("icc"),
        xmp=meta.get("xmp"),
    )


# --- TIFF -----------------------------------------------------------------------------------

_TIFF_NATIVE = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16, np.dtype(np.float16): 32,
                np.dtype(np.float32): 32, np.dtype(np.float64): 32}


def _read_tiff(path: Path, limit: int) -> _Decoded:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        channels, sample_bytes = tiff_layout(page)
        check_decode(path, int(page.imagewidth), int(page.imagelength), limit,
                     channels=channels, sample_bytes=sample_bytes)
        icc = tag_bytes(page, 34675)
        xmp = tag_bytes(page, 700)
        orientation = tiff_orientation(page)
        data = _tifffile_pixels(path, page)
    if data is None:  # layouts tifffile leaves to Pillow (palette, CMYK, YCbCr, 1-bit, LZW ...)
        decoded = _read_pillow(path, "TIFF", limit)
        data, has_alpha, depth = decoded.data, decoded.has_alpha, decoded.bit_depth
    else:
        data, has_alpha, depth = data
    return _Decoded(
        data=data,
        has_alpha=has_alpha,
        bit_depth=depth,
        exif=tiff_exif(path),
        icc=icc,
        xmp=xmp,
        orientation=orientation,
    )


def tiff_layout(page: Any) -> tuple[int, int]:
    """(samples per pixel x depth planes, bytes per sample) of a tifffile page; associated
    alpha is un-premultiplied in float64, so it counts 8 bytes per sample."""
    samples = max(int(page.samplesperpixel), 1) * max(int(getattr(page, "imagedepth", 1)), 1)
    dtype = page.dtype
    size = dtype.itemsize if dtype is not None else max(-(-int(page.bitspersample) // 8), 1)
    if 1 in tuple(int(x) for x in (page.extrasamples or ())):
        size = 8
    return samples, max(size, 1)


def tag_bytes(page: Any, code: int) -> bytes | None:
    tag = page.tags.get(code)
    if tag is None:
        return None
    value = tag.value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes(np.asarray(value, dtype=np.uint8).tobytes())


def tiff_orientation(page: Any) -> int | None:
    tag = page.tags.get(274)
    try:
        value = int(tag.value) if tag is not None else None
    except (TypeError, ValueError):
        return None
    return value if value is not None and 1 <= value <= 8 else None


def _tifffile_pixels(path: Path, page: Any) -> tuple[np.ndarray, bool, int] | None:
    """(HWC array, has_alpha, depth) via tifffile, or None when Pillow should decode."""
    photometric = int(page.photometric)  # 1 MINISBLACK, 2 RGB; others go to Pillow
    samples = int(page.samplesperpixel)
    if page.dtype not in _TIFF_NATIVE:
        return None
    if photometric == 1 and samples in (1, 2):
        colours = 1
    elif photometric == 2 and samples >= 3:
        colours = 3
    else:
        return None
    try:
        data = page.asarray()
    except ValueError as exc:
        if "imagecodecs" not in str(exc):
            raise
        if colours == 3 and page.dtype == np.uint16:  # Pillow would cut it to 8 bits
            raise MissingExtraError(
                f"{path}: this 16-bit RGB TIFF uses a compression tifffile decodes only with "
                "the package 'imagecodecs'. Install it with: pip install imagecodecs"
            ) from None
        return None  # e.g. 8-bit LZW without imagecodecs: Pillow decodes it exactly
    axes = page.axes
    if axes == "YX":
        data = data[..., None]
    elif axes == "SYX":
        data = np.moveaxis(data, 0, -1)
    elif axes != "YXS":
        return None
    extras = [int(x) for x in (page.extrasamples or ())]
    has_alpha = data.shape[2] > colours and bool(extras) and extras[0] in (1, 2)
    keep = colours + 1 if has_alpha else colours
    data = data[..., :keep]
    depth = _TIFF_NATIVE[data.dtype]
    if depth == 32:
        data = _clean_float(data)
    if has_alpha and extras[0] == 1:  # associated alpha: un-premultiply
        data = _unpremultiply(data, depth)
    return np.ascontiguousarray(data), has_alpha, depth


def _unpremultiply(data: np.ndarray, depth: int) -> np.ndarray:
    top = {8: 255.0, 16: 65535.0}.get(depth, 1.0)
    values = data.astype(np.float64)
    alpha = values[..., -1:] / top
    colour = np.where(alpha > 0, values[..., :-1] / np.maximum(alpha, 1e-12), 0.0)
    colour = np.clip(colour, 0, top)
    if depth == 32:
        return np.concatenate([colour, values[..., -1:]], axis=-1).astype(np.float32)
    out = np.concatenate([np.floor(colour + 0.5), values[..., -1:]], axis=-1)
    return out.astype(data.dtype)


def tiff_exif(path: Path) -> bytes | None:
    """EXIF block from a TIFF's own IFD0 tags (best effort; None when Pillow cannot parse)."""
    try:
        with open_pillow(path, "TIFF") as im:
            return _meta.exif_from_tiff_ifd(im.getexif())
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
        return None


# --- HEIF -----------------------------------------------------------------------------------


def _read_heif(path: Path, limit: int) -> _Decoded:
    pillow_heif = require("pillow_heif", extra="heic", purpose="reading HEIC/HEIF images")
    heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    width, height = heif.size
    mode = heif.mode
    channels = {"L": 1, "LA": 2, "RGB": 3, "BGR": 3}.get(mode.split(";")[0], 4)
    check_decode(path, width, height, limit, channels=channels,
                 sample_bytes=2 if mode.endswith(";16") else 1)
    data = np.asarray(heif)
    if data.ndim == 2:
        data = data[..., None]
    info = heif.info
    if mode.endswith(";16"):  # 10/12-bit samples, stored shifted to the top of 16 bits
        bits = int(info.get("bit_depth", 16))
        top = float(2**bits - 1)
        data = (np.right_shift(data, 16 - bits).astype(np.float32) / np.float32(top))
        depth = 16
    else:
        depth = 8
    return _Decoded(
        data=np.ascontiguousarray(data),
        has_alpha=mode.split(";")[0] in ("RGBA", "LA", "BGRA"),
        bit_depth=depth,
        exif=info.get("exif"),
        icc=info.get("icc_profile"),
        xmp=xmp_from_info(info),
        upright=True,  # libheif applies the irot/imir transforms; EXIF orientation is stale
    )


# --- RAW ------------------------------------------------------------------------------------


def open_raw(path: Path) -> tuple[Any, Any]:
    """(the rawpy module, a LibRaw handle with the file's header read); close the handle.
    An unsupported or damaged header is one clear error naming the file."""
    rawpy = require("rawpy", extra="raw", purpose="reading camera RAW files")
    raw = rawpy.RawPy()
    try:
        raw.open_file(str(path))
    except rawpy.LibRawFileUnsupportedError:
        raw.close()
        raise UnsupportedFormatError(
            path, "camera RAW variant not supported by LibRaw (rawpy); convert it to DNG"
        ) from None
    except rawpy.LibRawError as exc:
        raw.close()
        raise ImageReadError(path, f"corrupt camera RAW header ({libraw_message(exc)})") from None
    return rawpy, raw


def libraw_message(exc: BaseException) -> str:
    """A LibRaw (rawpy) error's text on one line (rawpy gives it as bytes)."""
    text = exc.args[0] if len(exc.args) == 1 else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


def _read_raw(path: Path, limit: int, raw_output: str) -> _Decoded:
    rawpy, raw = open_raw(path)
    try:
        sizes = raw.sizes
        check_decode(path, int(sizes.width), int(sizes.height), limit, channels=3,
                     sample_bytes=2)
        raw.unpack()
        if raw_output == "linear":
            rgb = raw.postprocess(
                output_bps=16, gamma=(1, 1), no_auto_bright=True, use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
            )
        else:
            rgb = raw.postprocess(
                output_bps=16, gamma=(2.4, 12.92), use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
            )
    except rawpy.LibRawError as exc:
        raise ImageReadError(
            path, f"truncated or corrupt camera RAW data ({type(exc).__name__}: "
            f"{libraw_message(exc)})"
        ) from None
    finally:
        raw.close()
    return _Decoded(data=np.ascontiguousarray(rgb), has_alpha=False, bit_depth=16, upright=True)
