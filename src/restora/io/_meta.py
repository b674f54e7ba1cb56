"""EXIF/XMP helpers: orientation read and rewrite (in place, byte-exact elsewhere), summaries.

EXIF blocks are kept as Pillow keeps JPEG's ``info["exif"]``: ``b"Exif\\0\\0"`` followed by
TIFF-structured bytes. Rewriting the orientation patches the two bytes of the Orientation
value in IFD0 and leaves every other byte (maker notes, offsets, thumbnails) untouched.
"""

from __future__ import annotations

import re
import struct
from typing import Any

import numpy as np

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112

_XMP_ORIENTATION = re.compile(rb"tiff:Orientation(=\"|>)([0-9])")


def normalize_exif(data: bytes | None) -> bytes | None:
    """EXIF bytes with the ``Exif\\0\\0`` prefix, or None when empty or not TIFF-structured."""
    if not data:
        return None
    data = bytes(data)
    body = data[6:] if data.startswith(EXIF_PREFIX) else data
    if body[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return EXIF_PREFIX + body


def exif_body(data: bytes) -> bytes:
    """TIFF-structured EXIF bytes without the ``Exif\\0\\0`` prefix (PNG eXIf, WebP EXIF)."""
    return data[6:] if data.startswith(EXIF_PREFIX) else data


def _orientation_entry(data: bytes) -> tuple[int, str] | None:
    """Byte offset (in ``data``) of the IFD0 Orientation SHORT value, and the byte order;
    None when there is none or the block is cut before its two bytes."""
    base = 6 if data.startswith(EXIF_PREFIX) else 0
    tiff = data[base:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack(order + "HHI", tiff[entry : entry + 8])
            if tag == ORIENTATION_TAG and kind == 3 and n >= 1:  # SHORT
                # a block cut inside the entry has no value to read or patch
                return (base + entry + 8, order) if entry + 10 <= len(tiff) else None
    except struct.error:
        return None
    return None


def exif_orientation(data: bytes | None) -> int | None:
    """The IFD0 Orientation value (1..8) of an EXIF block, or None when absent/invalid."""
    if not data:
        return None
    found = _orientation_entry(data)
    if found is None:
        return None
    offset, order = found
    (value,) = struct.unpack(order + "H", data[offset : offset + 2])
    return value if 1 <= value <= 8 else None


def exif_with_upright_orientation(data: bytes | None) -> bytes | None:
    """The same EXIF block with Orientation = 1; every other byte unchanged."""
    if not data:
        return data
    found = _orientation_entry(data)
    if found is None:
        return data
    offset, order = found
    return data[:offset] + struct.pack(order + "H", 1) + data[offset + 2 :]


def xmp_orientation(xmp: bytes | None) -> int | None:
    """``tiff:Orientation`` from an XMP packet (as Pillow's ``getexif`` falls back to)."""
    if not xmp:
        return None
    match = _XMP_ORIENTATION.search(xmp)
    if match is None:
        return None
    value = int(match.group(2))
    return value if 1 <= value <= 8 else None


def xmp_with_upright_orientation(xmp: bytes | None) -> bytes | None:
    """The same XMP packet with every ``tiff:Orientation`` set to 1."""
    if not xmp:
        return xmp
    return _XMP_ORIENTATION.sub(lambda m: b"tiff:Orientation" + m.group(1) + b"1", xmp)


def apply_orientation(array: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn an HWC array upright, as ``PIL.ImageOps.exif_transpose`` does for values 2..8."""
    if orientation is None or orientation == 1:
        return array
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:  # transpose (mirror about the main diagonal)
        return array.swapaxes(0, 1)
    if orientation == 6:  # rotate 90 degrees clockwise
        return np.rot90(array, -1)
    if orientation == 7:  # transverse (mirror about the anti-diagonal)
        return np.rot90(array, 2).swapaxes(0, 1)
    if orientation == 8:  # rotate 90 degrees counter-clockwise
        return np.rot90(array, 1)
    return array


# IFD0 tags worth carrying from a TIFF file's own IFD into an EXIF block.
_TIFF_IFD0_KEEP = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)


def exif_from_tiff_ifd(exif: Any) -> bytes | None:
    """An EXIF block built from a TIFF's IFD0 (a ``PIL.Image.Exif``), orientation = 1.

    Keeps description, make, model, software, date, artist, copyright and the Exif and
    GPS sub-IFDs; drops layout tags (strip offsets, sizes) that would be wrong elsewhere.
    """
    from PIL import Image

    out = Image.Exif()
    for tag in _TIFF_IFD0_KEEP:
        if tag in exif:
            out[tag] = exif[tag]
    for pointer in (0x8769, 0x8825):  # Exif IFD, GPS IFD
        sub = exif.get_ifd(pointer)
        if sub:
            out[pointer] = dict(sub)
    if not len(out):
        return None
    out[ORIENTATION_TAG] = 1
    return normalize_exif(out.tobytes())


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.strip("\x00 ").strip()
    if isinstance(value, tuple):
        return _plain(value[0]) if value else None
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return value
    return int(as_float) if isinstance(value, int) else as_float


def exif_summary(data: bytes | None) -> dict[str, Any]:
    """Make, Model, DateTimeOriginal, ExposureTime (s), FNumber, ISO, Orientation; present ones."""
    if not data:
        return {}
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(exif_body(data))
        sub = exif.get_ifd(0x8769)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
        return {}
    wanted = {
        "Make": exif.get(0x010F),
        "Model": exif.get(0x0110),
        "DateTimeOriginal": sub.get(0x9003),
        "ExposureTime": sub.get(0x829A),
        "FNumber": sub.get(0x829D),
        "ISO": sub.get(0x8827),
        "Orientation": exif.get(ORIENTATION_TAG),
    }
    return {key: _plain(value) for key, value in wanted.items() if value is not None}


# --- the Exif sub-IFD of TIFF files --------------------------------------------------------

#: IFD0 tag that tifffile writes as a LONG placeholder (it refuses to write the ExifIFD
#: pointer 34665 itself); :func:`tiff_with_exif_ifd` turns it into that pointer. The code
#: sits just below 34665, so IFD0 stays sorted by tag.
EXIF_IFD_PLACEHOLDER = 34664
EXIF_IFD_TAG = 0x8769
#: Exif sub-IFD tags not copied: pointers (their offsets would be wrong in a new file) and
#: maker notes (private offsets of their own).
_SUB_IFD_DROP = (0x927C, 0xA005)


def exif_sub_ifd(data: bytes | None) -> Any:
    """The Exif sub-IFD of an EXIF block as a ``PIL.TiffImagePlugin.ImageFileDirectory_v2``
    (values and their stored types), or None when there is none or it cannot be parsed."""
    if not data:
        return None
    import io

    from PIL import TiffImagePlugin

    body = exif_body(bytes(data))
    try:
        fp = io.BytesIO(body)
        head = fp.read(8)
        ifd0 = TiffImagePlugin.ImageFileDirectory_v2(head)
        ifd0.load(fp)
        offset = ifd0.get(EXIF_IFD_TAG)
        if not isinstance(offset, int) or not 8 <= offset < len(body):
            return None
        sub = TiffImagePlugin.ImageFileDirectory_v2(head)
        fp.seek(offset)
        sub.load(fp)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
        return None
    return sub if len(sub) else None


def tiff_with_exif_ifd(tiff: bytes, exif: bytes | None) -> bytes:
    """A classic TIFF file (``tiff``, bytes) with the Exif sub-IFD of ``exif`` appended and
    IFD0's :data:`EXIF_IFD_PLACEHOLDER` entry turned into the ExifIFD pointer to it.

    Without a placeholder, or without an Exif sub-IFD in ``exif``, ``tiff`` is returned
    unchanged. Maker notes and the interoperability pointer are not copied.
    """
    from PIL import TiffImagePlugin

    sub = exif_sub_ifd(exif)
    if sub is None or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return tiff
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[ifd0 : ifd0 + 2])
    entry = next((ifd0 + 2 + 12 * i for i in range(count)
                  if struct.unpack(order + "H", tiff[ifd0 + 2 + 12 * i : ifd0 + 4 + 12 * i])[0]
                  == EXIF_IFD_PLACEHOLDER), None)
    if entry is None:
        return tiff
    out = TiffImagePlugin.ImageFileDirectory_v2(tiff[:8])
    for tag, value in sub.items():
        if tag in _SUB_IFD_DROP or tag not in sub.tagtype:
            continue
        out.tagtype[tag] = sub.tagtype[tag]
        out[tag] = value
    position = len(tiff) + len(tiff) % 2  # IFDs start on a word boundary
    block = out.tobytes(position)
    patched = bytearray(tiff)
    patched[entry : entry + 12] = struct.pack(order + "HHII", EXIF_IFD_TAG, 4, 1, position)
    return bytes(patched) + b"\x00" * (position - len(tiff)) + block
