"""The in-memory photo: float pixels plus everything needed to write it back faithfully."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Metadata:
    """Metadata carried from input to output where the output format allows.

    ``exif`` is the raw EXIF block (TIFF-structured bytes, as Pillow's ``info["exif"]``),
    already rewritten with orientation = 1 when the decoder applied the rotation.
    ``icc`` is the ICC profile bytes, ``xmp`` the XMP packet bytes.
    """

    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None


@dataclass(frozen=True)
class Photo:
    """A decoded image.

    pixels: HWC float32 in [0, 1], C = 1 (gray) or 3 (RGB), colour as stored in the file
        (no colour-management conversion; the ICC profile travels in ``metadata``).
    alpha: HW1 float32 in [0, 1] or None; restoration never touches it.
    bit_depth: 8, 16 or 32 (float TIFF): what the encoder quantises back to by default.
    From ``read_image(..., samples=True)`` (and a streamed result about to be written),
    pixels and alpha are the file's samples instead: uint8 / uint16 (float32 for 32).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    metadata: Metadata = field(default_factory=Metadata)
    source: Path | None = None
    format: str | None = None  # "JPEG", "PNG", "TIFF", "WEBP", "BMP", "HEIF", "RAW", ...

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """Same photo (metadata, depth, alpha resized if needed) with new pixels.

        When the new pixels have another size (super-resolution), alpha is resized to match
        with bicubic interpolation.
        """
        alpha = self.alpha
        if alpha is not None and alpha.shape[:2] != pixels.shape[:2]:
            import cv2

            resized = cv2.resize(
                alpha[..., 0], (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_CUBIC
            )
            alpha = np.clip(resized, 0.0, 1.0)[..., None].astype(np.float32)
        return replace(self, pixels=pixels, alpha=alpha)
