"""Seeded bad image files for the input-hardening fuzz harness.

``generate_cases(seed, count, workdir)`` writes ``count`` damaged or odd files into
``workdir``, each made from a small valid seed image of every format restora reads (PNG
8/16-bit gray/RGB/RGBA/palette/1-bit, JPEG gray/RGB/progressive, TIFF 8/16/float, WebP,
BMP, HEIC when pillow-heif is installed) by one mutation family:

- ``truncate``: the file cut at an offset (header, metadata, pixel data, trailer);
- ``byteflip``: 1..16 random bytes XOR-ed with random values;
- ``size_bomb``: PNG IHDR (CRC fixed), JPEG SOF, TIFF, BMP and WebP dimensions rewritten
  to huge values over tiny pixel data;
- ``geometry``: 0-width, 1x100000, 100000x1, many channels, many TIFF pages/samples;
- ``exif``: malformed EXIF in JPEG/PNG/WebP (truncated orientation entry, wrong entry
  counts, offsets past the end, huge counts, self-referencing IFDs, bad values);
- ``zlib_bomb``: PNG iCCP/iTXt/zTXt chunks inflating to hundreds of megabytes;
- ``tiff_tags``: several values where one is expected, huge value counts;
- ``extension``: PNG bytes named .jpg, text named .png, empty files, other formats;
- ``filesystem``: a folder named x.png, a FIFO, a symlink loop, a dangling symlink, an
  unreadable file.

Every case says what a correct reader does: ``expect="error"`` (only a clean restora
error is right: the file cannot be an image) or ``"may_succeed"`` (decoding it, or a
clean error, are both right). ``header_ok`` says whether :func:`restora.io.image_info` may
succeed where decoding must fail (a size bomb has a readable header). Same seed and count:
the same files, byte for byte. Used by ``tests/fuzz/test_fuzz_slice.py`` and
``benchmarks/fuzz_inputs.py``.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ERROR = "error"
MAY_SUCCEED = "may_succeed"

#: Families in the order of the generation cycle, with their weight (slots out of 20).
FAMILY_WEIGHTS = {
    "truncate": 5, "byteflip": 5, "size_bomb": 2, "geometry": 2, "exif": 2,
    "zlib_bomb": 1, "tiff_tags": 1, "extension": 1, "filesystem": 1,
}
FAMILIES = tuple(FAMILY_WEIGHTS)


@dataclass(frozen=True)
class Case:
    """One generated input: ``path`` (inside the work folder), how it was made, and what a
    correct reader does with it."""

    id: str
    family: str
    seed: str  # the seed image (or "-" for files not made from one)
    variant: str  # what exactly was done, e.g. "cut@123" or "ihdr 14000x14000"
    path: Path
    expect: str  # ERROR or MAY_SUCCEED, for read_image and restore_file
    header_ok: bool = True  # image_info may succeed even when expect is ERROR


# --- seed images ------------------------------------------------------------------------------


def _pattern(height: int, width: int, channels: int, *, dtype: type = np.uint8) -> np.ndarray:
    """A smooth gradient with mild noise (not flat: so JPEG and the noise estimate have
    something to see), HWC."""
    rng = np.random.default_rng(height * 1000 + width * 10 + channels)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [(x / max(width - 1, 1) + k * 0.3 + 0.2 * y / max(height - 1, 1)) % 1.0
              for k in range(channels)]
    image = np.stack(planes, axis=-1) + rng.normal(0, 0.03, (height, width, channels))
    image = np.clip(image, 0, 1)
    if dtype == np.uint8:
        return np.round(image * 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.round(image * 65535).astype(np.uint16)
    return image.astype(np.float32)


def _pillow_bytes(image: object, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)  # type: ignore[attr-defined]
    return buf.getvalue()


def _exif_block(orientation: int = 6, *, sub_ifd: bool = True) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "FuzzCam"
    exif[0x0110] = "Model 1"
    if sub_ifd:
        exif.get_ifd(0x8769)[0x8827] = 200
    return exif.tobytes()


_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        b'tiff:Orientation="1"/></rdf:RDF></x:xmpmeta>')


def _png16(array: np.ndarray) -> bytes:
    import cv2

    if array.shape[2] == 3:
        array = array[..., ::-1]
    elif array.shape[2] == 4:
        array = array[..., [2, 1, 0, 3]]
    ok, data = cv2.imencode(".png", np.ascontiguousarray(array))
    assert ok
    return data.tobytes()


def _tiff(array: np.ndarray, **kwargs: object) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, array, metadata=None, **kwargs)
    return buf.getvalue()


@lru_cache(maxsize=1)
def seed_images() -> dict[str, tuple[str, bytes]]:
    """Small valid files: name -> (suffix, bytes). HEIC only when pillow-heif can encode."""
    from PIL import Image, ImageCms

    h, w = 24, 32
    rgb, gray = _pattern(h, w, 3), _pattern(h, w, 1)[..., 0]
    rgba = _pattern(h, w, 4)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = _exif_block()
    seeds: dict[str, tuple[str, bytes]] = {}
    png_meta = Image.fromarray(rgb)
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_itxt("XML:com.adobe.xmp", _XMP.decode(), zip=True)
    seeds["png_gray8"] = (".png", _pillow_bytes(Image.fromarray(gray), "PNG"))
    seeds["png_rgb8"] = (".png", _pillow_bytes(png_meta, "PNG", exif=exif, icc_profile=icc,
                                               pnginfo=text))
    seeds["png_rgba8"] = (".png", _pillow_bytes(Image.fromarray(rgba), "PNG"))
    seeds["png_la8"] = (".png", _pillow_bytes(Image.fromarray(rgba[..., :2], "LA"), "PNG"))
    seeds["png_palette"] = (".png", _pillow_bytes(Image.fromarray(rgb).quantize(16), "PNG"))
    seeds["png_palette_trns"] = (".png", _pillow_bytes(
        Image.fromarray(rgb).quantize(16), "PNG", transparency=0))
    seeds["png_1bit"] = (".png", _pillow_bytes(Image.fromarray(gray > 128), "PNG"))
    seeds["png_gray16"] = (".png", _png16(_pattern(h, w, 1, dtype=np.uint16)))
    seeds["png_rgb16"] = (".png", _png16(_pattern(h, w, 3, dtype=np.uint16)))
    seeds["png_rgba16"] = (".png", _png16(_pattern(h, w, 4, dtype=np.uint16)))
    seeds["jpeg_gray"] = (".jpg", _pillow_bytes(Image.fromarray(gray), "JPEG", quality=70))
    seeds["jpeg_rgb"] = (".jpg", _pillow_bytes(Image.fromarray(rgb), "JPEG", quality=60,
                                               exif=exif, icc_profile=icc))
    seeds["jpeg_progressive"] = (".jpg", _pillow_bytes(
        Image.fromarray(rgb), "JPEG", quality=80, progressive=True, optimize=True))
    seeds["jpeg_cmyk"] = (".jpg", _pillow_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG"))
    seeds["tiff_u8_rgb"] = (".tif", _tiff(rgb, photometric="rgb"))
    seeds["tiff_u8_rgba"] = (".tif", _tiff(rgba, photometric="rgb", extrasamples=[2]))
    seeds["tiff_u16_gray"] = (".tif", _tiff(_pattern(h, w, 1, dtype=np.uint16)[..., 0],
                                            photometric="minisblack"))
    seeds["tiff_u16_rgb"] = (".tif", _tiff(_pattern(h, w, 3, dtype=np.uint16),
                                           photometric="rgb"))
    seeds["tiff_f32_gray"] = (".tif", _tiff(_pattern(h, w, 1, dtype=np.float32)[..., 0],
                                            photometric="minisblack"))
    seeds["tiff_pillow_lzw"] = (".tif", _pillow_bytes(Image.fromarray(rgb), "TIFF",
                                                      compression="tiff_lzw",
                                                      exif=_exif_block(6, sub_ifd=False)))
    seeds["tiff_palette"] = (".tif", _pillow_bytes(Image.fromarray(rgb).quantize(8), "TIFF"))
    seeds["webp_lossy"] = (".webp", _pillow_bytes(Image.fromarray(rgb), "WEBP", quality=70,
                                                  exif=exif))
    seeds["webp_lossless_rgba"] = (".webp", _pillow_bytes(Image.fromarray(rgba), "WEBP",
                                                          lossless=True))
    seeds["bmp_rgb"] = (".bmp", _pillow_bytes(Image.fromarray(rgb), "BMP"))
    seeds["bmp_palette"] = (".bmp", _pillow_bytes(Image.fromarray(rgb).quantize(16), "BMP"))
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        seeds["heic_rgb"] = (".heic", _pillow_bytes(Image.fromarray(rgb), "HEIF", quality=60))
    except Exception:  # noqa: BLE001, S110  (no pillow-heif or no HEVC encoder: no HEIC seed)
        pass
    return seeds


# --- byte-level helpers -----------------------------------------------------------------------


def png_chunk(tag: bytes, payload: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    return (struct.pack(">I", len(payload)) + tag + payload
            + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, payload) of every chunk of a valid PNG."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((tag, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(t, p) for t, p in chunks)


def png_with_ihdr(data: bytes, **fields: int) -> bytes:
    """The PNG with IHDR fields (width, height, depth, colour) rewritten, CRC fixed."""
    chunks = png_chunks(data)
    width, height, depth, colour, comp, filt, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    values = {"width": width, "height": height, "depth": depth, "colour": colour}
    values.update(fields)
    ihdr = struct.pack(">IIBBBBB", values["width"], values["height"], values["depth"],
                       values["colour"], comp, filt, inter)
    return png_from_chunks([(b"IHDR", ihdr), *chunks[1:]])


def png_insert(data: bytes, chunk: bytes, *, after: bytes = b"IHDR") -> bytes:
    """Insert a raw chunk after the first chunk tagged ``after``."""
    pos = 8
    while pos + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + length
        if tag == after:
            return data[:pos] + chunk + data[pos:]
    return data


def jpeg_with_sof(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with the frame size of its SOF marker rewritten."""
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        sof = data.find(marker)
        if sof >= 0:
            return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]
    return data


def jpeg_with_app1(data: bytes, payload: bytes) -> bytes:
    """The JPEG with one APP1 segment (``payload`` after the marker and length) replacing
    any EXIF already there, placed right after SOI."""
    body, pos = bytearray(data[:2]), 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] in range(0xE0, 0xF0):
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if not (data[pos + 1] == 0xE1 and data[pos + 4:pos + 10] == b"Exif\0\0"):
            body += data[pos:pos + 2 + length]
        pos += 2 + length
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return bytes(data[:2] + segment + body[2:] + data[pos:])


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((tag, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def riff_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(
        tag + struct.pack("<I", len(p)) + p + (b"\0" if len(p) & 1 else b"") for tag, p in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_with_exif(data: bytes, exif: bytes) -> bytes:
    """A WebP (VP8X container, EXIF flag set) whose EXIF chunk is ``exif``."""
    chunks = [(t, p) for t, p in riff_chunks(data) if t != b"EXIF"]
    if chunks[0][0] != b"VP8X":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
        vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (
            height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    flags = chunks[0][1][0] | 0x08
    chunks[0] = (b"VP8X", bytes([flags]) + chunks[0][1][1:])
    return riff_from_chunks([*chunks, (b"EXIF", exif)])


def webp_with_canvas(data: bytes, width: int, height: int) -> bytes:
    """The WebP with its declared size rewritten (VP8X canvas, VP8L header or VP8 frame)."""
    chunks = riff_chunks(data)
    out = []
    for tag, payload in chunks:
        if tag == b"VP8X":
            payload = payload[:4] + (width - 1).to_bytes(3, "little") + (
                height - 1).to_bytes(3, "little") + payload[10:]
        elif tag == b"VP8L":
            (bits,) = struct.unpack("<I", payload[1:5])
            bits = (bits & ~0xFFFFFFF) | ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
            payload = payload[:1] + struct.pack("<I", bits) + payload[5:]
        elif tag == b"VP8 ":
            payload = payload[:6] + struct.pack("<HH", width & 0x3FFF, height & 0x3FFF) + (
                payload[10:])
        out.append((tag, payload))
    return riff_from_chunks(out)


def bmp_with_size(data: bytes, width: int, height: int) -> bytes:
    return data[:18] + struct.pack("<ii", width, height) + data[26:]


# TIFF field types: 1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, 7 UNDEFINED, 12 DOUBLE.
_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 11: 4, 12: 8, 16: 8}
_TIFF_FORMATS = {1: "B", 2: "B", 3: "H", 4: "I", 7: "B", 11: "f", 12: "d", 16: "Q"}


def build_tiff(entries: dict[int, tuple[int, list[int] | bytes]], pixels: bytes, *,
               count_override: dict[int, int] | None = None, pages: int = 1) -> bytes:
    """A little-endian classic TIFF written by hand: ``entries`` tag -> (type, values),
    StripOffsets (273) filled in for one strip of ``pixels``. ``count_override`` writes a
    different count than the values given (a lie the reader must survive); ``pages``
    chains that many identical IFDs."""
    count_override = count_override or {}
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    pixel_offset = len(out)
    out += pixels
    if len(out) & 1:
        out += b"\0"
    ifd_offsets = []
    for _ in range(pages):
        table = dict(entries)
        table[273] = (4, [pixel_offset])
        table.setdefault(279, (4, [len(pixels)]))
        blobs, records = bytearray(), []
        ifd_size = 2 + 12 * len(table) + 4
        ifd_start = len(out)
        blob_start = ifd_start + ifd_size
        for tag in sorted(table):
            kind, values = table[tag]
            if isinstance(values, bytes):
                raw, count = values, len(values)
            elif kind == 5:
                raw = b"".join(struct.pack("<II", v, 1) for v in values)
                count = len(values)
            else:
                raw = struct.pack("<" + _TIFF_FORMATS[kind] * len(values), *values)
                count = len(values)
            count = count_override.get(tag, count)
            if len(raw) <= 4:
                value = raw.ljust(4, b"\0")
            else:
                value = struct.pack("<I", blob_start + len(blobs))
                blobs += raw + (b"\0" if len(raw) & 1 else b"")
            records.append(struct.pack("<HHI", tag, kind, count) + value)
        out += struct.pack("<H", len(records)) + b"".join(records) + b"\0\0\0\0"
        out += blobs
        ifd_offsets.append(ifd_start)
    struct.pack_into("<I", out, 4, ifd_offsets[0])
    for this, following in itertools.pairwise(ifd_offsets):
        count = struct.unpack_from("<H", out, this)[0]
        struct.pack_into("<I", out, this + 2 + 12 * count, following)
    return bytes(out)


def tiff_gray8(width: int = 8, height: int = 6, *, extra: dict | None = None,
               count_override: dict[int, int] | None = None, pages: int = 1,
               samples: int = 1, bits: int = 8, photometric: int = 1) -> bytes:
    """A hand-made uncompressed TIFF (default 8x6 gray 8-bit) with tags overridable."""
    nbytes = max(width * height * samples * bits // 8, 0)
    pixels = bytes((i * 37) & 0xFF for i in range(min(nbytes, 1 << 16)))
    entries: dict[int, tuple[int, list[int] | bytes]] = {
        256: (4, [width]), 257: (4, [height]), 258: (3, [bits] * samples),
        259: (3, [1]), 262: (3, [photometric]), 277: (3, [samples]),
        278: (4, [height]), 284: (3, [1]),
    }
    entries.update(extra or {})
    return build_tiff(entries, pixels, count_override=count_override, pages=pages)


def exif_tiff(entries: bytes, count: int, *, order: str = "<", next_ifd: int = 0,
              tail: bytes = b"") -> bytes:
    """A raw EXIF body (``II*`` TIFF header, IFD0 at 8) with ``count`` declared entries
    followed by the ``entries`` bytes as given (they may be short: a truncated IFD)."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    return (magic + struct.pack(order + "I", 8) + struct.pack(order + "H", count) + entries
            + struct.pack(order + "I", next_ifd) + tail)


def _entry(tag: int, kind: int, count: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\0")


def bad_exif_bodies() -> list[tuple[str, bytes]]:
    """Malformed EXIF bodies (TIFF-structured, without the ``Exif\\0\\0`` prefix)."""
    orient = _entry(0x0112, 3, 1, struct.pack("<H", 6))
    return [
        ("orientation entry cut after its tag", b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01"),
        ("orientation entry cut after its type", b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03"),
        ("orientation value cut", b"II*\x00\x08\x00\x00\x00\x01\x00" + orient[:9]),
        ("IFD count 0xFFFF over one entry", exif_tiff(orient, 0xFFFF)),
        ("IFD offset past the end", b"II*\x00\xf0\xff\xff\x0f"),
        ("IFD offset inside the header", b"II*\x00\x02\x00\x00\x00\x00\x00"),
        ("orientation count 2^32-1", exif_tiff(_entry(0x0112, 3, 0xFFFFFFFF, b"\x10\0\0\0"), 1)),
        ("orientation as LONG 6", exif_tiff(_entry(0x0112, 4, 1, struct.pack("<I", 6)), 1)),
        ("orientation value 0", exif_tiff(_entry(0x0112, 3, 1, b"\0\0"), 1)),
        ("orientation value 9", exif_tiff(_entry(0x0112, 3, 1, b"\x09\0"), 1)),
        ("orientation 3 values", exif_tiff(_entry(0x0112, 3, 3, struct.pack("<I", 26)), 1,
                                           tail=b"\x06\x00\x03\x00\x08\x00")),
        ("next IFD points to itself", exif_tiff(orient, 1, next_ifd=8)),
        ("Exif sub-IFD points to IFD0", exif_tiff(
            orient + _entry(0x8769, 4, 1, struct.pack("<I", 8)), 2)),
        ("GPS sub-IFD past the end", exif_tiff(
            orient + _entry(0x8825, 4, 1, struct.pack("<I", 0x7FFFFFF0)), 2)),
        ("Make ASCII count 2^31", exif_tiff(
            orient + _entry(0x010F, 2, 0x80000000, struct.pack("<I", 26)), 2)),
        ("big-endian magic, little-endian body", b"MM\x00*" + exif_tiff(orient, 1)[4:]),
        ("only the magic", b"II*\x00"),
        ("empty", b""),
        ("unknown type 99", exif_tiff(_entry(0x0112, 99, 1, b"\x06\0"), 1)),
        ("rational with count 2^30", exif_tiff(
            orient + _entry(0x011A, 5, 0x40000000, struct.pack("<I", 38)), 2)),
    ]


@lru_cache(maxsize=8)
def zlib_bomb(inflated: int) -> bytes:
    """zlib data inflating to ``inflated`` zero bytes (a whole number of MiB; about 1/1000
    of it on disk). Built from one compressed MiB repeated: after a full flush deflate
    output no longer depends on what came before, so each further MiB is the same bytes."""
    block = b"\0" * (1 << 20)
    mebibytes = max(inflated >> 20, 2)
    deflate = zlib.compressobj(9)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = ((mebibytes << 20) % 65521) << 16 | 1  # Adler-32 of n zero bytes: a = 1, b = n
    # b"\x03\x00": an empty final block with fixed codes, then the Adler-32 trailer
    return first + middle * (mebibytes - 1) + b"\x03\x00" + struct.pack(">I", adler)


# --- the mutation families ---------------------------------------------------------------------

# A maker gets (rng, k, seeds) -> (seed name, variant, bytes or None, suffix, expect, header_ok)
# where k counts the cases of that family so far (variants are walked in order); returning
# bytes None means the case is a file-system entry made by _make_special.
Made = tuple[str, str, bytes | None, str, str, bool]


def _pick_seed(rng: random.Random, seeds: dict[str, tuple[str, bytes]],
               prefix: str = "") -> str:
    names = sorted(n for n in seeds if n.startswith(prefix))
    return rng.choice(names)


def _truncate(rng: random.Random, k: int, seeds: dict) -> Made:
    name = _pick_seed(rng, seeds)
    suffix, data = seeds[name]
    n = len(data)
    where = k % 4
    if where == 0:
        cut = rng.randrange(0, min(64, n))  # inside the header
    elif where == 1:
        cut = rng.randrange(n // 4, 3 * n // 4)  # middle: pixel data
    elif where == 2:
        cut = n - rng.randrange(1, min(16, n))  # the trailer
    else:
        cut = rng.randrange(1, n)
    return name, f"cut@{cut}/{n}", data[:cut], suffix, MAY_SUCCEED, True


def _byteflip(rng: random.Random, k: int, seeds: dict) -> Made:
    name = _pick_seed(rng, seeds)
    suffix, data = seeds[name]
    buf = bytearray(data)
    flips = rng.choice((1, 1, 2, 4, 8, 16))
    # half the cases aim at the first 256 bytes (headers, metadata), half anywhere
    span = min(len(buf), 256) if k % 2 == 0 else len(buf)
    where = sorted(rng.randrange(span) for _ in range(flips))
    for pos in where:
        buf[pos] ^= rng.randrange(1, 256)
    return name, f"flip {flips}@{where[:4]}", bytes(buf), suffix, MAY_SUCCEED, True


_BOMB_SIZES = ((14000, 14000), (65535, 65535), (12000, 12000), (100000, 100000),
               (2**31 - 1, 1), (1, 2**31 - 1), (30000, 20000), (4000, 4000))


def _size_bomb(rng: random.Random, k: int, seeds: dict) -> Made:
    width, height = _BOMB_SIZES[(k // 5) % len(_BOMB_SIZES)]
    kind = k % 5
    if kind == 0:
        name = _pick_seed(rng, seeds, "png")
        data = png_with_ihdr(seeds[name][1], width=width, height=height)
        return name, f"IHDR {width}x{height}", data, ".png", ERROR, True
    if kind == 1:
        name = _pick_seed(rng, seeds, "jpeg")
        w, h = min(width, 65535), min(height, 65535)
        data = jpeg_with_sof(seeds[name][1], w, h)
        return name, f"SOF {w}x{h}", data, ".jpg", ERROR, True
    if kind == 2:
        w, h = min(width, 2**32 - 1), min(height, 2**32 - 1)
        data = tiff_gray8(extra={256: (4, [w]), 257: (4, [h]), 278: (4, [h])})
        return "tiff_hand", f"TIFF {w}x{h}", data, ".tif", ERROR, True
    if kind == 3:
        name = _pick_seed(rng, seeds, "bmp")
        w, h = min(width, 2**31 - 1), min(height, 2**31 - 1)
        return name, f"BMP {w}x{h}", bmp_with_size(seeds[name][1], w, h), ".bmp", ERROR, True
    name = _pick_seed(rng, seeds, "webp")
    w, h = min(width, 16384), min(height, 16384)
    data = webp_with_canvas(seeds[name][1], w, h)
    return name, f"WebP {w}x{h}", data, ".webp", ERROR, True


def _geometry_variants() -> list[tuple[str, Callable[[dict], tuple[bytes, str, str, bool]]]]:
    from PIL import Image

    def png(seeds: dict, **fields: int) -> bytes:
        return png_with_ihdr(seeds["png_rgb8"][1], **fields)

    def real_png(width: int, height: int, mode: str = "L") -> bytes:
        array = _pattern(height, width, 1 if mode == "L" else 3)
        return _pillow_bytes(Image.fromarray(array[..., 0] if mode == "L" else array), "PNG")

    def tiff_samples(samples: int) -> bytes:
        return _tiff(_pattern(4, 5, samples), photometric="minisblack", planarconfig="contig")

    def tiff_pages(pages: int) -> bytes:
        return tiff_gray8(4, 4, pages=pages)

    return [
        ("PNG width 0", lambda s: (png(s, width=0), ".png", ERROR, False)),
        ("PNG height 0", lambda s: (png(s, height=0), ".png", ERROR, False)),
        ("PNG 1x100000", lambda s: (real_png(1, 100000), ".png", MAY_SUCCEED, True)),
        ("PNG 100000x1 RGB", lambda s: (real_png(100000, 1, "RGB"), ".png", MAY_SUCCEED, True)),
        ("PNG 1x1", lambda s: (real_png(1, 1), ".png", MAY_SUCCEED, True)),
        ("PNG 2x2 RGB", lambda s: (real_png(2, 2, "RGB"), ".png", MAY_SUCCEED, True)),
        ("PNG bit depth 3", lambda s: (png(s, depth=3), ".png", ERROR, True)),
        ("PNG colour type 5", lambda s: (png(s, colour=5), ".png", ERROR, True)),
        ("JPEG height 0", lambda s: (jpeg_with_sof(s["jpeg_rgb"][1], 32, 0), ".jpg", ERROR, True)),
        ("JPEG width 0", lambda s: (jpeg_with_sof(s["jpeg_gray"][1], 0, 24), ".jpg", ERROR,
                                    True)),
        ("JPEG 1x1", lambda s: (_pillow_bytes(Image.new("RGB", (1, 1), (9, 99, 199)), "JPEG"),
                                ".jpg", MAY_SUCCEED, True)),
        ("JPEG 1x4000", lambda s: (_pillow_bytes(Image.fromarray(_pattern(4000, 1, 1)[..., 0]),
                                                 "JPEG"), ".jpg", MAY_SUCCEED, True)),
        ("TIFF 200 samples", lambda s: (tiff_samples(200), ".tif", MAY_SUCCEED, True)),
        ("TIFF 5 samples", lambda s: (tiff_samples(5), ".tif", MAY_SUCCEED, True)),
        ("TIFF 2 samples", lambda s: (tiff_samples(2), ".tif", MAY_SUCCEED, True)),
        ("TIFF 1000 pages", lambda s: (tiff_pages(1000), ".tif", MAY_SUCCEED, True)),
        ("TIFF samples 65535 declared", lambda s: (
            tiff_gray8(extra={277: (3, [65535])}), ".tif", MAY_SUCCEED, True)),
        ("TIFF bits 64 gray", lambda s: (tiff_gray8(bits=64), ".tif", MAY_SUCCEED, True)),
        ("TIFF bits 1", lambda s: (tiff_gray8(bits=1), ".tif", MAY_SUCCEED, True)),
        ("TIFF width 0", lambda s: (tiff_gray8(extra={256: (4, [0])}), ".tif", ERROR, True)),
        ("TIFF 1x1", lambda s: (tiff_gray8(1, 1), ".tif", MAY_SUCCEED, True)),
        ("BMP width 0", lambda s: (bmp_with_size(s["bmp_rgb"][1], 0, 24), ".bmp", ERROR, True)),
        ("BMP negative width", lambda s: (bmp_with_size(s["bmp_rgb"][1], -32, 24), ".bmp",
                                          ERROR, True)),
        ("BMP top-down", lambda s: (bmp_with_size(s["bmp_rgb"][1], 32, -24), ".bmp",
                                    MAY_SUCCEED, True)),
        ("WebP 1x1", lambda s: (_pillow_bytes(Image.new("RGB", (1, 1)), "WEBP"), ".webp",
                                MAY_SUCCEED, True)),
    ]


def _geometry(rng: random.Random, k: int, seeds: dict) -> Made:
    variants = _geometry_variants()
    variant, make = variants[k % len(variants)]
    data, suffix, expect, header_ok = make(seeds)
    return "-", variant, data, suffix, expect, header_ok


def _exif(rng: random.Random, k: int, seeds: dict) -> Made:
    bodies = bad_exif_bodies()
    variant, body = bodies[(k // 3) % len(bodies)]
    container = k % 3
    if container == 0:
        name = rng.choice(("jpeg_rgb", "jpeg_gray", "jpeg_progressive"))
        data = jpeg_with_app1(seeds[name][1], b"Exif\0\0" + body)
        suffix = ".jpg"
    elif container == 1:
        name = rng.choice(("png_rgb8", "png_gray8", "png_rgba16", "png_gray16"))
        chunks = [(t, p) for t, p in png_chunks(seeds[name][1]) if t != b"eXIf"]
        data = png_from_chunks([chunks[0], (b"eXIf", body), *chunks[1:]])
        suffix = ".png"
    else:
        name = rng.choice(("webp_lossy", "webp_lossless_rgba"))
        data = webp_with_exif(seeds[name][1], b"Exif\0\0" + body if k % 2 else body)
        suffix = ".webp"
    return name, f"EXIF {variant}", data, suffix, MAY_SUCCEED, True


def _zlib_bomb_family(rng: random.Random, k: int, seeds: dict) -> Made:
    name = rng.choice(("png_rgb8", "png_gray8", "png_gray16", "png_rgb16"))
    base = seeds[name][1]
    kind = k % 5
    size = (64 << 20, 256 << 20, 512 << 20)[(k // 5) % 3]
    stream = zlib_bomb(size)
    if kind == 0:
        chunk = png_chunk(b"iCCP", b"icc\0\0" + stream)
        variant = "iCCP"
    elif kind == 1:
        chunk = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\x01\x00\0\0" + stream)
        variant = "iTXt XMP"
    elif kind == 2:
        chunk = png_chunk(b"zTXt", b"Comment\0\0" + stream)
        variant = "zTXt"
    elif kind == 3:
        chunk = png_chunk(b"iTXt", b"Description\0\x01\x00en\0\0" + stream)
        variant = "iTXt text"
    else:  # a second IDAT stream that inflates far past the image's size
        chunk = png_chunk(b"IDAT", stream)
        variant = "IDAT"
        data = png_insert(base, chunk, after=b"IDAT")
        return name, f"{variant} bomb {size >> 20} MiB", data, ".png", MAY_SUCCEED, True
    data = png_insert(base, chunk)
    return name, f"{variant} bomb {size >> 20} MiB", data, ".png", MAY_SUCCEED, True


def _tiff_ifd_loop() -> bytes:
    data = bytearray(tiff_gray8())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    struct.pack_into("<I", data, ifd + 2 + 12 * count, ifd)
    return bytes(data)


def _tiff_tag_variants() -> list[tuple[str, bytes]]:
    many = [(277, "SamplesPerPixel"), (256, "ImageWidth"), (257, "ImageLength"),
            (259, "Compression"), (262, "Photometric"), (274, "Orientation"),
            (284, "PlanarConfiguration"), (278, "RowsPerStrip"), (296, "ResolutionUnit"),
            (317, "Predictor"), (339, "SampleFormat"), (338, "ExtraSamples")]
    out = []
    for tag, label in many:
        out.append((f"{label} with 3 values", tiff_gray8(extra={tag: (3, [1, 2, 3])})))
    out += [
        ("BitsPerSample 3 values for 1 sample", tiff_gray8(extra={258: (3, [8, 8, 8])})),
        ("BitsPerSample mixed 8,16,8", tiff_gray8(samples=3, photometric=2,
                                                  extra={258: (3, [8, 16, 8])})),
        ("Orientation as RATIONAL", tiff_gray8(extra={274: (5, [6])})),
        ("Orientation as ASCII", tiff_gray8(extra={274: (2, b"6\0")})),
        ("Orientation 9", tiff_gray8(extra={274: (3, [9])})),
        ("ImageWidth as DOUBLE", tiff_gray8(extra={256: (12, [8.0])})),
        ("StripByteCounts count 2^30", tiff_gray8(count_override={279: 0x40000000})),
        ("ICC count 2^31", tiff_gray8(extra={34675: (7, b"abcd" * 4)},
                                      count_override={34675: 0x80000000})),
        ("XMP count 2^30", tiff_gray8(extra={700: (1, b"<x/>" * 4)},
                                      count_override={700: 0x40000000})),
        ("StripOffsets past the end", build_tiff(
            {256: (4, [8]), 257: (4, [6]), 258: (3, [8]), 259: (3, [1]), 262: (3, [1]),
             277: (3, [1]), 279: (4, [48]), 273: (4, [0x7FFFFFFF])}, b"\0" * 48)),
        ("Photometric 5 (CMYK) 1 sample", tiff_gray8(extra={262: (3, [5])})),
        ("Photometric palette, no ColorMap", tiff_gray8(extra={262: (3, [3])})),
        ("Compression 7 (JPEG) raw bytes", tiff_gray8(extra={259: (3, [7])})),
        ("Compression 5 (LZW) raw bytes", tiff_gray8(extra={259: (3, [5])})),
        ("Compression 8 (deflate) raw bytes", tiff_gray8(extra={259: (3, [8])})),
        ("RGB with 1 sample", tiff_gray8(photometric=2)),
        ("ExtraSamples 4 values, 2 samples", tiff_gray8(samples=2,
                                                        extra={338: (3, [1, 2, 0, 2])})),
        ("Exif IFD pointing to IFD0", tiff_gray8(extra={34665: (4, [8])})),
        ("IFD0 next pointer loops to itself", _tiff_ifd_loop()),
    ]
    return out


def _tiff_tags(rng: random.Random, k: int, seeds: dict) -> Made:
    variants = _tiff_tag_variants()
    variant, data = variants[k % len(variants)]
    return "tiff_hand", variant, data, ".tif", MAY_SUCCEED, True


def _extension(rng: random.Random, k: int, seeds: dict) -> Made:
    names = sorted(seeds)
    variants = [
        ("PNG bytes named .jpg", "png_rgb8", ".jpg"),
        ("JPEG bytes named .png", "jpeg_rgb", ".png"),
        ("TIFF bytes named .webp", "tiff_u16_rgb", ".webp"),
        ("WebP bytes named .tif", "webp_lossy", ".tif"),
        ("BMP bytes named .heic", "bmp_rgb", ".heic"),
        ("random seed with no suffix", rng.choice(names), ""),
        ("random seed named .txt", rng.choice(names), ".txt"),
    ]
    junk = [
        ("text named .png", b"this is not an image\n" * 3, ".png"),
        ("empty file .jpg", b"", ".jpg"),
        ("empty file .png", b"", ".png"),
        ("HTML named .jpg", b"<!DOCTYPE html><html><body>404</body></html>", ".jpg"),
        ("GIF named .png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", ".png"),
        ("PNG signature only", b"\x89PNG\r\n\x1a\n", ".png"),
        ("JPEG SOI only", b"\xff\xd8\xff", ".jpg"),
        ("TIFF magic only", b"II*\x00", ".tif"),
        ("RIFF WEBP header only", b"RIFF\x04\x00\x00\x00WEBP", ".webp"),
        ("BMP magic + DIB size only", b"BM" + b"\0" * 12 + struct.pack("<I", 40), ".bmp"),
        ("ftyp heic only", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", ".heic"),
        ("random bytes named .tif", bytes(rng.randrange(256) for _ in range(300)), ".tif"),
        ("NUL bytes named .png", b"\0" * 1000, ".png"),
    ]
    total = len(variants) + len(junk)
    i = k % total
    if i < len(variants):
        label, name, suffix = variants[i]
        if name not in seeds:
            name = names[0]
        return name, label, seeds[name][1], suffix, MAY_SUCCEED, True
    label, data, suffix = junk[i - len(variants)]
    return "-", label, data, suffix, ERROR, False


_SPECIAL = ("directory named x.png", "FIFO named x.png", "symlink loop", "dangling symlink",
            "unreadable file", "symlink to a valid PNG", "name with spaces and unicode",
            "path through a file", "directory named x.jpg with a file inside")


def _filesystem(rng: random.Random, k: int, seeds: dict) -> Made:
    variant = _SPECIAL[k % len(_SPECIAL)]
    expect = MAY_SUCCEED if variant in ("symlink to a valid PNG",
                                        "name with spaces and unicode") else ERROR
    if variant == "unreadable file" and os.geteuid() == 0:
        expect = MAY_SUCCEED  # root reads it anyway
    return "-", variant, None, ".png", expect, expect == MAY_SUCCEED


_MAKERS: dict[str, Callable[[random.Random, int, dict], Made]] = {
    "truncate": _truncate, "byteflip": _byteflip, "size_bomb": _size_bomb,
    "geometry": _geometry, "exif": _exif, "zlib_bomb": _zlib_bomb_family,
    "tiff_tags": _tiff_tags, "extension": _extension, "filesystem": _filesystem,
}


def _make_special(variant: str, path: Path, seeds: dict) -> Path:
    """Create the file-system entry of a ``filesystem`` case; returns the path to read."""
    png = seeds["png_rgb8"][1]
    if variant == "directory named x.png":
        path.mkdir()
    elif variant == "directory named x.jpg with a file inside":
        path = path.with_suffix(".jpg")
        path.mkdir()
        (path / "inner.png").write_bytes(png)
    elif variant == "FIFO named x.png":
        os.mkfifo(path)
    elif variant == "symlink loop":
        path.symlink_to(path.name)
    elif variant == "dangling symlink":
        path.symlink_to(path.with_name(path.stem + "_missing.png"))
    elif variant == "unreadable file":
        path.write_bytes(png)
        path.chmod(0)
    elif variant == "symlink to a valid PNG":
        target = path.with_name(path.stem + "_target.png")
        target.write_bytes(png)
        path.symlink_to(target.name)
    elif variant == "name with spaces and unicode":
        path = path.with_name(path.stem + " é 写真 -x.png")
        path.write_bytes(png)
    elif variant == "path through a file":
        path.with_suffix(".bin").write_bytes(png)
        path = path.with_suffix(".bin") / "x.png"
    return path


def generate_cases(seed: int, count: int, workdir: str | Path) -> list[Case]:
    """Write ``count`` fuzz cases into ``workdir`` (created; should be empty) and return
    them. Deterministic in ``seed`` and ``count``: the families cycle by
    :data:`FAMILY_WEIGHTS` (so any 20 consecutive cases cover every family) and each
    family walks its variants in order with parameters drawn from ``random.Random(seed)``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = seed_images()
    rng = random.Random(seed)
    cycle = [f for f, weight in FAMILY_WEIGHTS.items() for _ in range(weight)]
    counters = dict.fromkeys(FAMILIES, 0)
    cases = []
    for i in range(count):
        family = cycle[i % len(cycle)]
        k = counters[family] + seed  # the seed also shifts where each variant walk starts
        counters[family] += 1
        name, variant, data, suffix, expect, header_ok = _MAKERS[family](rng, k, seeds)
        case_id = f"{i:05d}-{family}"
        path = workdir / f"{case_id}-{name}{suffix}"
        if data is None:
            path = _make_special(variant, path, seeds)
        else:
            path.write_bytes(data)
        cases.append(Case(case_id, family, name, variant, path, expect, header_ok))
    return cases


__all__ = ["ERROR", "FAMILIES", "MAY_SUCCEED", "Case", "generate_cases", "seed_images"]
