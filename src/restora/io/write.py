"""Encode a :class:`Photo` (or an array) to a file, atomically, carrying its metadata."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from restora._optional import require
from restora.errors import (
    ImageWriteError,
    InvalidParameterError,
    OutputExistsError,
    ShapeError,
    UnsupportedFormatError,
)
from restora.io import _meta
from restora.io._sniff import PNG_SIGNATURE
from restora.io.atomic import atomic_write
from restora.io.bridge import from_float32, to_float32
from restora.io.image import Metadata, Photo

WRITE_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP", ".bmp": "BMP", ".heic": "HEIF", ".heif": "HEIF",
}
_DEPTHS = {"JPEG": (8,), "PNG": (8, 16), "TIFF": (8, 16, 32), "WEBP": (8,), "BMP": (8,),
           "HEIF": (8,)}
_ALPHA = {"PNG", "TIFF", "WEBP", "HEIF"}
#: zlib level of the lossless writers (PNG 8/16-bit, TIFF): the pixels are the same at any
#: level. On an 8-bit 2 MP photo level 6 (zlib's and Pillow's default) took 2.4x level 3's
#: time (1.3 s, as long as the network on an AMX CPU) for a 12 % smaller file; 16-bit
#: files barely change (``benchmarks/encode_levels.py``, docs/benchmarks.md).
DEFLATE_LEVEL = 3


def write_image(
    image: Photo | np.ndarray,
    path: str | Path,
    *,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
    inputs: Sequence[str | Path] = (),
    metadata: Metadata | None = None,
) -> Path:
    """Write ``image`` to ``path`` (format from the suffix) atomically; return the path.

    - ``image``: a Photo, or an array HW/HWC (C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA),
      uint8 / uint16 / float in [0, 1].
    - Formats: .jpg/.jpeg .png .tif/.tiff .webp .bmp .heic/.heif. Alpha is written to
      PNG/TIFF/WebP/HEIF and silently dropped for JPEG/BMP. Gray stays gray (WebP has no
      gray mode: written as RGB).
    - ``bit_depth``: default = the photo's depth where the format allows it, else the
      deepest the format has below it (PNG 8/16, TIFF 8/16/32 float, others 8); arrays
      default to 16 for uint16 and 8 otherwise. An explicit depth the format lacks raises.
    - Quantisation: clip to [0, 1], then ``floor(x * max + 0.5)`` (round half up).
    - ``quality`` (1..100): JPEG (4:4:4 chroma at quality >= 90, else 4:2:0), WebP
      (100 = lossless), HEIF. PNG and TIFF (deflate) are lossless.
    - Metadata (``metadata`` or the photo's): JPEG EXIF+ICC+XMP; PNG EXIF+ICC+XMP (iTXt);
      TIFF ICC+XMP, the EXIF make/model/date/artist/copyright as IFD0 tags and the Exif
      sub-IFD (ISO, exposure, date taken ...; maker notes dropped);
      WebP EXIF+ICC+XMP; HEIF EXIF+ICC+XMP; BMP none.
    - Safety: refuses (OutputExistsError) when ``path`` is the same file as one of
      ``inputs`` or the photo's ``source``, unless ``overwrite=True``; other existing files
      are replaced (like ``cp``). The data goes to a temporary file in the same folder,
      which is renamed over ``path`` only when complete; on any failure nothing is left
      behind and ImageWriteError is raised. Parent folders are created.
    """
    path = Path(path)
    photo = image if isinstance(image, Photo) else _photo_from_array(image)
    sources = list(inputs) + ([photo.source] if photo.source is not None else [])
    check_output_path(path, inputs=sources, overwrite=overwrite)
    fmt = WRITE_FORMATS[path.suffix.lower()]
    _check_photo(photo)
    depth = _resolve_depth(path, fmt, photo.bit_depth, bit_depth)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise InvalidParameterError(f"quality must be an int in 1..100, got {quality!r}")
    meta = metadata if metadata is not None else photo.metadata
    if meta.exif:
        exif = _meta.normalize_exif(meta.exif)
        if exif is None:
            raise InvalidParameterError(
                f"metadata.exif for {path} is not an EXIF block (expected TIFF-structured "
                f"bytes, optionally after b'Exif\\0\\0'; got {bytes(meta.exif[:12])!r}...)"
            )
        meta = replace(meta, exif=exif)
    for plane, name in ((photo.pixels, "pixels"), (photo.alpha, "alpha")):
        if plane is not None and plane.dtype.kind == "f" and np.isnan(plane).any():
            raise ImageWriteError(path, f"the {name} contain NaN values; nothing was written")
    keep_alpha = photo.alpha is not None and fmt in _ALPHA
    data = photo.pixels
    if keep_alpha:
        data = np.concatenate([data, photo.alpha], axis=-1)
    samples = _quantise(data, depth)
    encoder = _ENCODERS[fmt]
    atomic_write(path, lambda fh: encoder(fh, samples, quality, meta, keep_alpha))
    return path


def check_output_path(
    path: str | Path, *, inputs: Sequence[str | Path] = (), overwrite: bool = False
) -> Path:
    """Check, before any work, that :func:`write_image` may write ``path``; return it.

    Raises UnsupportedFormatError (suffix not writable), OutputExistsError (``path`` is the
    same file as one of ``inputs``, unless ``overwrite``) or ImageWriteError (a folder).
    Other existing files may be replaced (like ``cp``); the commands refuse that too unless
    told (:meth:`restora.run.Restorer.run_file`).
    """
    path = Path(path)
    if path.suffix.lower() not in WRITE_FORMATS:
        raise UnsupportedFormatError(
            path, f"cannot write files with suffix {path.suffix!r}; use one of "
            f"{', '.join(sorted(WRITE_FORMATS))}"
        )
    if not overwrite:
        for source in inputs:
            if _same_file(path, Path(source)):
                raise OutputExistsError(
                    path, f"is the same file as the input {source}; writing would replace the "
                    "original. Choose another output path, or pass overwrite=True to replace "
                    "it in place."
                )
    if path.is_dir():
        raise ImageWriteError(path, "is a directory; give a file name with an image suffix")
    return path


def _photo_from_array(array: np.ndarray) -> Photo:
    array = np.asarray(array)
    depth = 16 if array.dtype == np.uint16 else 8
    floats = to_float32(array)
    channels = floats.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ShapeError(
            f"expected an image array with 1, 2, 3 or 4 channels (HxWxC), got shape {array.shape}"
        )
    if channels in (2, 4):
        return Photo(pixels=floats[..., :-1].copy(), alpha=floats[..., -1:].copy(),
                     bit_depth=depth)
    return Photo(pixels=floats, bit_depth=depth)


def _check_photo(photo: Photo) -> None:
    pixels = photo.pixels
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or 0 in pixels.shape:
        raise ShapeError(
            f"Photo.pixels must be HxWx1 or HxWx3 and non-empty, got shape {pixels.shape}"
        )
    if photo.alpha is not None and photo.alpha.shape != pixels.shape[:2] + (1,):
        raise ShapeError(
            f"Photo.alpha must be HxWx1 matching the pixels {pixels.shape[:2]}, "
            f"got shape {photo.alpha.shape}"
        )


def _resolve_depth(path: Path, fmt: str, photo_depth: int, requested: int | None) -> int:
    allowed = _DEPTHS[fmt]
    if requested is None:
        below = [d for d in allowed if d <= photo_depth]
        return max(below) if below else min(allowed)
    if requested not in allowed:
        raise InvalidParameterError(
            f"bit_depth={requested!r} is not available for {fmt} output {path}; "
            f"{fmt} supports {', '.join(map(str, allowed))}"
        )
    return requested


def _quantise(data: np.ndarray, depth: int) -> np.ndarray:
    if depth == 32:
        return np.ascontiguousarray(data, dtype=np.float32)
    target = np.uint8 if depth == 8 else np.uint16
    if data.dtype == target:  # the file's samples already (a streamed result)
        return data
    return from_float32(data, target)


def output_bit_depth(path: str | Path, photo_depth: int, requested: int | None = None) -> int:
    """The bit depth :func:`write_image` writes ``path`` with (8, 16 or 32 = float): the
    requested one, else the photo's where the format allows, else the deepest below it."""
    path = Path(check_output_path(path, overwrite=True))
    return _resolve_depth(path, WRITE_FORMATS[path.suffix.lower()], photo_depth, requested)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return a.resolve() == b.resolve()
        except (OSError, RuntimeError):  # a symlink loop: it cannot be the same file
            return False


# --- encoders: (file, samples HWC, quality, metadata, has_alpha) ------------------------------


def _pil_image(samples: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)


def _drop_alpha(samples: np.ndarray, has_alpha: bool) -> np.ndarray:
    return samples[..., :-1] if has_alpha else samples


def _encode_jpeg(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                 has_alpha: bool) -> None:
    image = _pil_image(_drop_alpha(samples, has_alpha))
    options: dict[str, Any] = {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    if image.mode == "L":
        options.pop("subsampling")
    _add_pil_metadata(options, meta, exif_prefix=True)
    image.save(fh, format="JPEG", **options)


def _encode_png(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                has_alpha: bool) -> None:
    if samples.dtype == np.uint16:
        _write_png16(fh, samples, meta)
        return
    from PIL import PngImagePlugin

    options: dict[str, Any] = {}
    if meta.exif:
        options["exif"] = meta.exif
    if meta.icc:
        options["icc_profile"] = meta.icc
    if meta.xmp:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", meta.xmp.decode("utf-8", "replace"))
        options["pnginfo"] = info
    _pil_image(samples).save(fh, format="PNG", compress_level=DEFLATE_LEVEL, **options)


def _write_png16(fh: IO[bytes], samples: np.ndarray, meta: Metadata) -> None:
    """16-bit PNG (gray, gray+alpha, RGB, RGBA) with Sub filtering and deflate."""
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(tag: bytes, payload: bytes) -> None:
        fh.write(struct.pack(">I", len(payload)) + tag + payload)
        fh.write(struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))

    fh.write(PNG_SIGNATURE)
    chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
    if meta.icc:
        chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(meta.icc))
    if meta.exif:
        chunk(b"eXIf", _meta.exif_body(meta.exif))
    if meta.xmp:
        chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + meta.xmp)
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    step = channels * 2  # bytes per pixel
    filtered = rows.copy()
    filtered[:, step:] = rows[:, step:] - rows[:, :-step]  # Sub filter, modulo 256
    compressor = zlib.compressobj(DEFLATE_LEVEL)
    block = max(1, (8 << 20) // (filtered.shape[1] + 1))
    for start in range(0, height, block):
        part = filtered[start : start + block]
        lines = np.concatenate([np.ones((part.shape[0], 1), np.uint8), part], axis=1)
        data = compressor.compress(lines.tobytes())
        if data:
            chunk(b"IDAT", data)
    chunk(b"IDAT", compressor.flush())
    chunk(b"IEND", b"")


def _encode_tiff(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                 has_alpha: bool) -> None:
    import tifffile

    colours = samples.shape[2] - (1 if has_alpha else 0)
    extratags = []
    if meta.xmp:
        extratags.append((700, "B", len(meta.xmp), meta.xmp, True))
    summary = _exif_ifd0_text(meta.exif)
    for code, text in summary:
        extratags.append((code, "s", 0, text, True))
    exif_ifd = _meta.exif_sub_ifd(meta.exif) is not None
    if exif_ifd:  # shooting data (ISO, exposure, date taken): an Exif sub-IFD, added below
        extratags.append((_meta.EXIF_IFD_PLACEHOLDER, "I", 1, 0, True))
    data = samples[..., 0] if samples.shape[2] == 1 else samples
    target: Any = io.BytesIO() if exif_ifd else fh
    tifffile.imwrite(
        target,
        data,
        photometric="minisblack" if colours == 1 else "rgb",
        planarconfig="contig" if data.ndim == 3 else None,
        extrasamples=("unassalpha",) if has_alpha else None,
        compression="zlib",
        compressionargs={"level": DEFLATE_LEVEL},
        predictor=samples.dtype != np.float32,
        iccprofile=meta.icc or None,
        software="restora",
        metadata=None,
        extratags=extratags,
    )
    if exif_ifd:
        fh.write(_meta.tiff_with_exif_ifd(target.getvalue(), meta.exif))


def _exif_ifd0_text(exif: bytes | None) -> list[tuple[int, str]]:
    """ASCII IFD0 tags (description, make, model, date, artist, copyright) from EXIF."""
    if not exif:
        return []
    from PIL import Image

    parsed = Image.Exif()
    try:
        parsed.load(_meta.exif_body(exif))
    except (OSError, ValueError, SyntaxError, struct.error):
        return []
    out = []
    for code in (0x010E, 0x010F, 0x0110, 0x0132, 0x013B, 0x8298):
        value = parsed.get(code)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value.strip("\x00 "):
            out.append((code, value.strip("\x00")))
    return out


def _encode_webp(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                 has_alpha: bool) -> None:
    if samples.shape[2] in (1, 2):  # WebP has no gray mode
        gray = samples[..., :1]
        samples = np.concatenate([gray, gray, gray, samples[..., 1:]], axis=-1)
    options: dict[str, Any] = {"quality": quality, "lossless": quality == 100}
    _add_pil_metadata(options, meta, exif_prefix=False)
    _pil_image(samples).save(fh, format="WEBP", **options)


def _encode_bmp(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                has_alpha: bool) -> None:
    _pil_image(_drop_alpha(samples, has_alpha)).save(fh, format="BMP")


def _encode_heif(fh: IO[bytes], samples: np.ndarray, quality: int, meta: Metadata,
                 has_alpha: bool) -> None:
    pillow_heif = require("pillow_heif", extra="heic", purpose="writing HEIC/HEIF images")
    if samples.shape[2] == 2:  # gray + alpha: libheif wants RGBA
        gray = samples[..., :1]
        samples = np.concatenate([gray, gray, gray, samples[..., 1:]], axis=-1)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[samples.shape[2]]
    height, width = samples.shape[:2]
    heif = pillow_heif.from_bytes(mode=mode, size=(width, height),
                                  data=np.ascontiguousarray(samples).tobytes())
    options: dict[str, Any] = {"quality": quality}
    _add_pil_metadata(options, meta, exif_prefix=True)
    heif.save(fh, **options)


def _add_pil_metadata(options: dict[str, Any], meta: Metadata, *, exif_prefix: bool) -> None:
    if meta.exif:
        options["exif"] = meta.exif if exif_prefix else _meta.exif_body(meta.exif)
    if meta.icc:
        options["icc_profile"] = meta.icc
    if meta.xmp:
        options["xmp"] = meta.xmp


_ENCODERS: dict[str, Callable[[IO[bytes], np.ndarray, int, Metadata, bool], None]] = {
    "JPEG": _encode_jpeg, "PNG": _encode_png, "TIFF": _encode_tiff, "WEBP": _encode_webp,
    "BMP": _encode_bmp, "HEIF": _encode_heif,
}

