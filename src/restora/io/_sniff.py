"""Format detection from magic bytes, cheap header parsing, and the pixel-count guard.

Nothing here decodes pixels: it reads at most a few kilobytes of the file.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from restora.errors import (
    DecodeBudgetError,
    DecompressionBombError,
    ImageReadError,
    InvalidParameterError,
    UnsupportedFormatError,
)

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width x height) decoded without an explicit override: 200 megapixels."""

MAX_PIXELS_ENV = "RESTORA_MAX_PIXELS"

MAX_DECODE_BYTES_ENV = "RESTORA_MAX_DECODE_BYTES"

DECODE_MEMORY_FRACTION = 0.5
"""Default decode budget: this fraction of the memory the process may use (the smallest of
physical RAM, the cgroup limit and the address-space rlimit left)."""

PIPELINE_FLOAT_COPIES = 5
"""Whole-image float32 copies counted per decode: the photo's pixels and the copies the
restoration pipeline makes of them (estimate, working copy, output, encode). Calibrated by
``benchmarks/memory_estimate.py``: the measured growth of peak RSS per pixel was 14-42 B
(gray / RGB automatic mode) and 19 B for a black 1-bit PNG, whose 18 B estimate with 4
copies was short; 5 copies give 22 B per gray and 66 B per RGB pixel."""

RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".rw2", ".orf")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}

# Recognised, but not read by restora: (magic, offset, name).
_UNSUPPORTED = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000 codestream"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "JPEG XL"),
    (b"8BPS", 0, "Photoshop PSD"),
    (b"\x00\x00\x01\x00", 0, "Windows ICO"),
    (b"%PDF", 0, "PDF"),
    (b"qoif", 0, "QOI"),
    (b"\x76\x2f\x31\x01", 0, "OpenEXR"),
    (b"#?RADIANCE", 0, "Radiance HDR"),
)

_READ_FORMATS_TEXT = "JPEG, PNG, TIFF, WebP, BMP, HEIC/HEIF, camera RAW"


def resolve_max_pixels(max_pixels: int | None) -> int:
    """The pixel limit: the argument, else ``$RESTORA_MAX_PIXELS``, else 200 megapixels."""
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV)
        if env is None or not env.strip():
            return DEFAULT_MAX_PIXELS
        try:
            value = int(env.strip())
        except ValueError:
            raise InvalidParameterError(
                f"environment variable {MAX_PIXELS_ENV}={env!r} is not an integer; "
                f"set it to a pixel count such as 400000000, or unset it "
                f"(default {DEFAULT_MAX_PIXELS})"
            ) from None
        source = f"environment variable {MAX_PIXELS_ENV}"
    else:
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int):
            raise InvalidParameterError(
                f"max_pixels must be an int pixel count or None, got {max_pixels!r}"
            )
        value, source = max_pixels, "max_pixels"
    if value <= 0:
        raise InvalidParameterError(f"{source} must be a positive pixel count, got {value}")
    return value


def check_pixels(path: Path, width: int, height: int, limit: int) -> None:
    """Raise before decoding when the header declares an empty or too large image."""
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"the header declares an empty image ({width}x{height})")
    pixels = width * height
    if pixels > limit:
        raise DecompressionBombError(
            path,
            f"the header declares {width}x{height} = {pixels / 1e6:.1f} megapixels, more than "
            f"the limit of {limit / 1e6:.1f} megapixels (a guard against decompression bombs). "
            f"If you trust this file, raise the limit with max_pixels=... or the environment "
            f"variable {MAX_PIXELS_ENV}.",
        )


def decode_bytes(width: int, height: int, channels: int, sample_bytes: int) -> int:
    """Peak bytes a decode allocates: the decoder's buffer and its copy into numpy
    (2 x ``sample_bytes`` per sample) plus :data:`PIPELINE_FLOAT_COPIES` float32 copies."""
    return width * height * channels * (2 * sample_bytes + 4 * PIPELINE_FLOAT_COPIES)


def check_decode(path: Path, width: int, height: int, limit: int, *, channels: int,
                 sample_bytes: int) -> None:
    """The header checks before any pixel is decoded: not empty, at most ``limit`` pixels
    (:func:`check_pixels`), and within the decode memory budget
    (:func:`resolve_max_decode_bytes`). ``channels`` and ``sample_bytes`` describe what
    the decoder produces (a palette counts as RGBA, 1-bit as one byte)."""
    check_pixels(path, width, height, limit)
    need = decode_bytes(width, height, max(channels, 1), max(sample_bytes, 1))
    budget = resolve_max_decode_bytes()
    if need > budget:
        raise DecodeBudgetError(
            path,
            f"the header declares {width}x{height} pixels x {channels} channel(s) x "
            f"{sample_bytes * 8} bits; decoding and restoring it needs about {_gib(need)} of "
            f"memory, more than the decode budget of {_gib(budget)} (a guard against running "
            f"out of memory). If you trust this file and have the memory, raise the budget "
            f"with the environment variable {MAX_DECODE_BYTES_ENV} (bytes).",
        )


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB" if value >= 2**28 else f"{value / 2**20:.0f} MiB"


def resolve_max_decode_bytes() -> int:
    """The decode memory budget in bytes: ``$RESTORA_MAX_DECODE_BYTES``, else
    :data:`DECODE_MEMORY_FRACTION` of :func:`memory_limit`."""
    env = os.environ.get(MAX_DECODE_BYTES_ENV)
    if env is None or not env.strip():
        return int(memory_limit() * DECODE_MEMORY_FRACTION)
    try:
        value = int(env.strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidParameterError(
            f"environment variable {MAX_DECODE_BYTES_ENV}={env!r} is not a positive byte "
            f"count; set it to e.g. 8000000000, or unset it (default: "
            f"{DECODE_MEMORY_FRACTION:g} of the memory available to the process)"
        )
    return value


def memory_limit() -> int:
    """Bytes this process may use at most: the smallest of physical RAM, the cgroup memory
    limit (containers) and, under an address-space rlimit, what is left of it."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(max(soft - _mapped_bytes(), 0))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else 8 << 30


def _mapped_bytes() -> int:
    """This process's address space (VmSize), 0 where /proc is not available."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def check_regular_file(path: Path) -> None:
    """Raise ImageReadError unless ``path`` is a regular file (following links): a missing
    file, a folder, a symlink loop, or a FIFO / device / socket (opening one could block)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageReadError(path, "file not found; check the path") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied; check the file's read permission") from None
    except OSError as exc:  # ELOOP (a symlink loop), ENAMETOOLONG, ...
        raise ImageReadError(path, f"cannot open the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ImageReadError(path, "is a directory, expected an image file")
    if not stat.S_ISREG(mode):
        raise ImageReadError(path, "is not a regular file (a pipe, device or socket); give an "
                                   "image file")


def read_head(path: Path, size: int = 64) -> bytes:
    """First ``size`` bytes; missing, unreadable, non-regular and empty files raise
    ImageReadError."""
    check_regular_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
    except FileNotFoundError:
        raise ImageReadError(path, "file not found; check the path") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, expected an image file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied; check the file's read permission") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open the file: {exc.strerror or exc}") from None
    if not head:
        raise ImageReadError(path, "empty file (0 bytes); expected image data")
    return head


def sniff_format(path: Path) -> str:
    """Format from content: JPEG, PNG, TIFF, WEBP, BMP, HEIF or RAW.

    TIFF-based RAW files (NEF, ARW, DNG, ...) share TIFF's magic bytes; they are told
    apart by the Canon CR2 marker, the DNGVersion tag, or (last resort) a RAW suffix.
    Raises ImageReadError (missing/empty/not an image) or UnsupportedFormatError
    (a recognised image format restora does not read).
    """
    head = read_head(path)
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "RAW"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00"):  # Olympus ORF, Panasonic RW2
        return "RAW"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        if head[8:10] == b"CR":  # Canon CR2
            return "RAW"
        if head[2:4] in (b"*\x00", b"\x00*") and 50706 in tiff_ifd0_tags(path):  # DNGVersion
            return "RAW"
        if path.suffix.lower() in RAW_SUFFIXES:
            return "RAW"
        return "TIFF"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        if b"crx " in brands:
            return "RAW"  # Canon CR3
        generic_heif = (b"mif1" in brands or b"msf1" in brands) and not brands & _AVIF_BRANDS
        if brands & _HEIF_BRANDS or generic_heif:
            return "HEIF"
        if brands & _AVIF_BRANDS:
            raise UnsupportedFormatError(
                path, f"AVIF images are not supported (restora reads {_READ_FORMATS_TEXT}); "
                "convert it to PNG or TIFF first"
            )
        raise UnsupportedFormatError(
            path, "an ISO media file (video or other), not a still image restora reads "
            f"({_READ_FORMATS_TEXT})"
        )
    if head[:2] == b"BM" and len(head) >= 18 and (
        struct.unpack("<I", head[14:18])[0] in _BMP_DIB_SIZES
    ):
        return "BMP"
    for magic, offset, name in _UNSUPPORTED:
        if head[offset : offset + len(magic)] == magic:
            raise UnsupportedFormatError(
                path, f"{name} images are not supported (restora reads {_READ_FORMATS_TEXT}); "
                "convert it to PNG or TIFF first"
            )
    raise ImageReadError(
        path,
        f"not an image: the file starts with {head[:16]!r}, which matches no format restora "
        f"reads ({_READ_FORMATS_TEXT}); the file may be misnamed or corrupt",
    )


def _ftyp_brands(head: bytes) -> set[bytes]:
    size = struct.unpack(">I", head[0:4])[0]
    end = min(len(head), max(size, 16))
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def png_header(path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit_depth, colour_type) from the PNG IHDR chunk, without decoding."""
    head = read_head(path, 33)
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise ImageReadError(path, "truncated or corrupt PNG: no valid IHDR header chunk")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, colour


#: deflate emits at least 2 bits per 258-byte match: no zlib stream inflates more than
#: about 1032 bytes per compressed byte (with slack for headers).
_DEFLATE_MAX_RATIO = 1100

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def check_png_data(path: Path, width: int, height: int, depth: int, colour: int) -> None:
    """Raise when the PNG's image data (all IDAT chunks) is too short to inflate to the
    size its header declares: the file is truncated or its header lies (a size bomb), and
    decoding would allocate the whole image before failing."""
    bits = depth * _PNG_CHANNELS.get(colour, 4)
    raw = height * (1 + (width * bits + 7) // 8)  # filter byte + packed samples per row
    idat = png_idat_bytes(path)
    if idat * _DEFLATE_MAX_RATIO + (64 << 10) < raw:
        raise ImageReadError(
            path, f"truncated or corrupt PNG: {idat} bytes of image data cannot hold the "
            f"{width}x{height} pixels the header declares")


def _png_chunks(fh: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """(tag, payload length) of each chunk of an open PNG, in order, reading headers only.

    When a chunk is yielded the file stands at its payload; the caller may read it (a short
    read ends the walk). The walk stops at IEND or at a damaged chunk header."""
    fh.seek(8)
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return
        length, tag = struct.unpack(">I4s", header)
        start = fh.tell()
        yield tag, length
        if tag == b"IEND":
            return
        fh.seek(start + length + 4)  # payload and CRC


def png_idat_bytes(path: Path) -> int:
    """Total length of the IDAT chunks of a PNG (walks the chunk headers only)."""
    with open(path, "rb") as fh:
        return sum(length for tag, length in _png_chunks(fh) if tag == b"IDAT")


#: SOF markers of Huffman-coded JPEG (baseline, extended, progressive, lossless); these
#: code every 8x8 luma block in at least one bit. Arithmetic coding has no such floor.
_JPEG_HUFFMAN_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7}


def check_jpeg_data(path: Path) -> None:
    """Raise when a Huffman-coded JPEG file is too short to hold the frame its SOF header
    declares (at least one bit per 8x8 luma block, with a factor 2 of slack): it is
    truncated or its header lies, and decoding would allocate the whole frame first."""
    frame = jpeg_frame(path)
    if frame is None:
        return
    marker, width, height = frame
    blocks = -(-width // 8) * -(-height // 8)
    size = path.stat().st_size
    if marker in _JPEG_HUFFMAN_SOF and size * 16 < blocks:
        raise ImageReadError(
            path, f"truncated or corrupt JPEG: {size} bytes cannot hold the {width}x{height} "
            f"pixels the header declares")


def jpeg_frame(path: Path) -> tuple[int, int, int] | None:
    """(SOF marker, width, height) of a JPEG from its marker segments, or None when no
    frame header is found in the first 1 MiB."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return marker, width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        pos += 2 + length
    return None


#: Largest decompressed ICC profile or XMP packet read from a PNG (Pillow's limit for text
#: chunks): a zlib bomb of a few hundred kilobytes cannot make restora allocate gigabytes.
MAX_METADATA_BYTES = 1 << 20


def inflate_limited(data: bytes, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """zlib-decompress at most ``limit`` bytes; ``None`` when the data is damaged or would
    inflate beyond the limit (the metadata is then left out, as Pillow does)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else out


def png_metadata_chunks(path: Path) -> dict[str, bytes]:
    """ICC ('icc', decompressed), EXIF ('exif', raw TIFF bytes) and XMP ('xmp') of a PNG.

    Walks the chunk list, seeking over image data; stops at IEND or at a damaged chunk.
    Compressed metadata inflating beyond :data:`MAX_METADATA_BYTES` is left out.
    """
    found: dict[str, bytes] = {}
    with open(path, "rb") as fh:
        for tag, length in _png_chunks(fh):
            if tag not in (b"iCCP", b"eXIf", b"iTXt") or length >= 64 * 2**20:
                continue
            payload = fh.read(length)
            if len(payload) < length:
                break
            if tag == b"iCCP":
                _, _, rest = payload.partition(b"\x00")
                icc = inflate_limited(rest[1:])
                if icc is not None:
                    found["icc"] = icc
            elif tag == b"eXIf":
                found["exif"] = payload
            else:
                keyword, _, rest = payload.partition(b"\x00")
                if keyword == b"XML:com.adobe.xmp" and len(rest) >= 2:
                    compressed = rest[0]
                    # skip compression method, language tag and translated keyword
                    _, _, rest = rest[2:].partition(b"\x00")
                    _, _, text = rest.partition(b"\x00")
                    xmp = inflate_limited(text) if compressed else text
                    if xmp is not None:
                        found["xmp"] = xmp
    return found


def tiff_ifd0_tags(path: Path) -> set[int]:
    """Tag numbers present in the first IFD of a classic TIFF file (empty set on damage)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            order = "<" if head[:2] == b"II" else ">"
            (offset,) = struct.unpack(order + "I", head[4:8])
            fh.seek(offset)
            raw = fh.read(2)
            if len(raw) < 2:
                return set()
            (count,) = struct.unpack(order + "H", raw)
            entries = fh.read(12 * count)
    except (OSError, struct.error):
        return set()
    return {
        struct.unpack(order + "H", entries[i : i + 2])[0]
        for i in range(0, len(entries) - 11, 12)
    }
