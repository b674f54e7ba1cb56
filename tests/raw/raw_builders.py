"""Synthetic camera RAW files for the RAW tests and benchmark: a known scene, unprocessed to
an RGGB mosaic (Brooks et al. 2019), Poisson-Gaussian noise, written as a 16-bit DNG with
tifffile (the Exif sub-IFD is added with restora's own TIFF helper)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Black and white levels of the synthetic sensor (14-bit data, as many cameras).
BLACK, WHITE = 1024, 16383
CFA_CODES = {"R": 0, "G": 1, "B": 2}


def scene(height: int = 128, width: int = 192) -> np.ndarray:
    """The known scene, HW3 float64 in [0, 1]: a crop of scikit-image's astronaut (top
    two thirds, area-downscaled) above a chart of flat patches (grays from black to white
    and six colours), so the noise estimate has flat areas at every level."""
    import cv2
    from skimage import data

    photo = data.astronaut().astype(np.float32) / 255.0
    top = height * 2 // 3
    crop = photo[20:420, 40:500]
    natural = cv2.resize(crop, (width, top), interpolation=cv2.INTER_AREA)
    chart = np.zeros((height - top, width, 3), np.float32)
    levels = [0.02, 0.1, 0.25, 0.45, 0.7, 0.95]
    colours = [(0.8, 0.15, 0.1), (0.15, 0.7, 0.2), (0.1, 0.2, 0.75), (0.85, 0.8, 0.15),
               (0.7, 0.2, 0.7), (0.2, 0.7, 0.8)]
    patches = [(v, v, v) for v in levels] + colours
    half = (height - top) // 2
    step = width // 6
    for k, colour in enumerate(patches):
        row, col = divmod(k, 6)
        chart[row * half:(row + 1) * half if row == 0 else None,
              col * step:(col + 1) * step if col < 5 else None] = colour
    return np.concatenate([natural, chart], axis=0).astype(np.float64)


@dataclass(frozen=True)
class Synthetic:
    """A synthetic shot: the clean mosaic (normalised linear, as restora's decoder reads
    it back), the noisy one as stored in the file, and the camera it came from."""

    clean: np.ndarray
    noisy: np.ndarray
    wb: np.ndarray
    xyz2cam: np.ndarray
    shot: float
    read: float


def shoot(image: np.ndarray, *, iso: float, seed: int = 0) -> Synthetic:
    """Unprocess ``image`` (random camera, seeded) and add the noise restora's ISO relation
    gives for ``iso`` (``restora.io.raw_develop.noise_from_iso``), quantised to 14 bits."""
    from restora.degrade.camera import RGB2XYZ, add_camera_noise, unprocess
    from restora.io.raw_develop import noise_from_iso

    rng = np.random.default_rng(seed)
    clean, meta = unprocess(image, rng)
    model = noise_from_iso(iso)
    noisy = add_camera_noise(clean, model.shot, model.read, rng)
    span = WHITE - BLACK
    clean_q = np.round(BLACK + clean * span) - BLACK
    noisy_q = np.clip(np.round(BLACK + noisy * span), 0, 65535) - BLACK
    xyz2cam = meta.rgb2cam @ np.linalg.inv(RGB2XYZ)
    return Synthetic(clean=(clean_q / span).astype(np.float32),
                     noisy=(noisy_q / span).astype(np.float32),
                     wb=np.array([meta.red_gain, 1.0, meta.blue_gain]), xyz2cam=xyz2cam,
                     shot=model.shot, read=model.read)


def _rationals(values) -> list[int]:
    out: list[int] = []
    for v in values:
        out += [round(float(v) * 10000), 10000]
    return out


def write_dng(path: Path, shot: Synthetic, *, mosaic: np.ndarray | None = None,
              iso: float | None = 800, noise_profile: tuple[float, float] | None = None,
              orientation: int | None = None, pattern: str = "RGGB") -> Path:
    """Write ``shot``'s noisy mosaic (or ``mosaic``, normalised; its CFA layout ``pattern``)
    as a 16-bit DNG with
    DNGVersion, CFARepeatPatternDim, CFAPattern, BlackLevel, WhiteLevel, ColorMatrix1 (its
    camera's XYZ -> camera matrix), AsShotNeutral (1 / its white balance), Make, Model,
    DateTime, and an Exif sub-IFD with ISO (when ``iso``), ExposureTime, FNumber and
    DateTimeOriginal; optionally NoiseProfile and Orientation."""
    import tifffile
    from PIL import Image, TiffImagePlugin

    from restora.io._meta import EXIF_IFD_PLACEHOLDER, tiff_with_exif_ifd

    values = shot.noisy if mosaic is None else mosaic
    cfa = np.clip(np.round(BLACK + values.astype(np.float64) * (WHITE - BLACK)), 0, 65535)
    tags = [
        (271, "s", 0, "Restora", True),
        (272, "s", 0, "Synthetic RGGB", True),
        (306, "s", 0, "2025:03:04 05:06:07", True),
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, tuple(CFA_CODES[c] for c in pattern), True),  # CFAPattern
        (EXIF_IFD_PLACEHOLDER, "I", 1, 0, True),  # becomes the ExifIFD pointer
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "Restora Synthetic RGGB", True),  # UniqueCameraModel
        (50714, "H", 1, BLACK, True),  # BlackLevel
        (50717, "H", 1, WHITE, True),  # WhiteLevel
        (50721, "2i", 9, _rationals(shot.xyz2cam.ravel()), True),  # ColorMatrix1
        (50728, "2I", 3, _rationals(1.0 / shot.wb), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
    ]
    if noise_profile is not None:
        tags.append((51041, "d", 2, tuple(noise_profile), True))  # NoiseProfile
    if orientation is not None:
        tags.append((274, "H", 1, orientation, True))
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, cfa.astype(np.uint16), photometric=32803, extratags=tags,
                     subfiletype=0, metadata=None)
    exif = Image.Exif()
    sub = {0x829A: TiffImagePlugin.IFDRational(1, 125), 0x829D: TiffImagePlugin.IFDRational(28, 10),
           0x9003: "2025:03:04 05:06:07"}
    if iso is not None:
        sub[0x8827] = int(iso)
    exif[0x8769] = sub
    Path(path).write_bytes(tiff_with_exif_ifd(buffer.getvalue(), exif.tobytes()))
    return Path(path)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two float images in [0, 1]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
