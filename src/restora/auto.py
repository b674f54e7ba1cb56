"""The automatic mode: look at a photo, decide what it needs, and say why.

:func:`plan` inspects an image (JPEG quality from the file's quantisation tables, exposure,
blind noise estimate, on the luma of JPEGs) and returns a :class:`Plan`: the steps to run,
deblock -> lowlight -> denoise -> upscale, each with the reason it was chosen, plus notes on
what was left alone.
Each step names what will run: the default for its task and the image's channels from the
one default table (:mod:`restora.defaults`). :class:`restora.run.Restorer` runs the plans;
this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from restora.defaults import pick, weights_enabled
from restora.errors import InvalidParameterError
from restora.estimate import estimate_sigma
from restora.io.bridge import to_float32
from restora.io.image import Photo
from restora.io.jpeg_quality import estimate_jpeg_quality
from restora.methods.denoisers import load_network
from restora.models.inference import InferenceRunner
from restora.options import Execution
from restora.weights import installed

#: Estimates are capped at the top of the 8-bit range (a 1-bit image reads about 267).
SIGMA_MAX = 255.0

NOISE_THRESHOLD = 3.0
"""Denoise when the estimated noise std (8-bit units) is at least this.

Clean photos estimate at about 0.5-1 (scikit-image's astronaut: 0.46); visible sensor noise
starts around 3-5.
"""

CAMERA_THRESHOLD = 1.7
"""Denoise camera noise (:data:`CAMERA_SIGMA_PER_RMS`) when what the blind real-photo model
``denoise_real`` removes from the flat parts of the
probe crops reaches this RMS (8-bit units; :func:`camera_noise`). On nam_real_noise (real
camera noise) the reading is 1.2-4.4 (median 1.95); on clean photos saved as quality-95
JPEGs 0.7-1.7 for most, higher on grainy scans (docs/benchmarks.md)."""

CAMERA_SIGMA_PER_RMS = 6.0
"""The camera-noise step runs the default noise-map model (the white-noise denoiser) at
sigma = this x the reading (:func:`camera_sigma`). Camera noise is correlated (blotches a
few pixels wide) and a white-noise denoiser removes it only at a sigma well above its RMS
(on nam_real_noise the best fixed sigma is about 3x the true RMS, and the reading is
about half the true RMS); 6 was chosen on nam_real_noise (its validation pairs; leave-one-out
in docs/benchmarks.md). The blind real-photo model (``denoise_real``) removes about half of
real noise and is kept as the reading's probe and as ``--model denoise_real``."""
CAMERA_SIGMA_RANGE = (6.0, 15.0)
"""Range of :func:`camera_sigma` (8-bit units). On nam_real_noise the best sigma is 8-14
whatever the reading; on restora's own synthetic camera noise (stronger, finer) sigma above
15 smooths more than it removes (the synthetic camera shot of tests/auto/test_camera_noise.py
reads 3.6: at sigma 21.8 it lost 0.47 dB against its input)."""
#: The shipped blind real-photo model that takes the camera-noise reading.
CAMERA_READER = "denoise_real"

#: A probe block (8x8 px) is flat when the model's output varies less than this there (std,
#: 8-bit units, mean over channels); the reading needs at least MIN_FLAT_BLOCKS of them.
FLAT_STD, MIN_FLAT_BLOCKS, BLOCK = 4.0, 16, 8

WHITE_SHARE = 0.6
"""White-noise test: when the finest-scale estimate (:func:`estimate_sigma`) reaches this
share of the camera reading, the noise is white (synthetic, AWGN-like) and the noise-map
model runs at the estimated sigma; camera noise, correlated by demosaicking and JPEG,
reads far lower at the finest scale (0.4 vs 3.6 on nam_real_noise)."""

STRUCTURE_MAX = 0.04
"""White-noise check: a finest-scale estimate at or above NOISE_THRESHOLD counts as noise
only when what the default noise-map model removes at that sigma is unrelated to the image
(:func:`residual_structure` below this). Brick, foliage and fabric read 3-6 at the finest
scale on clean photos; what the model then removes follows their edges, while removed noise
does not. With the shipped ``denoise_color`` (stage 4) and clipped pixels left out (session
18): at most -0.019 with AWGN sigma 3-25 on 20 LIVE1 photos (q95 JPEG; 0.029 over the whole
crop); building2's bricks, the one clean photo of them reading above 3, 0.048 (0.049);
``benchmarks/camera_step.py --parts structure``, docs/benchmarks.md. (The threshold follows
the model: stage 3 read up to 0.10 on noise and 0.15 on building2.)"""
#: Side (px) of the centre crop :func:`residual_structure` reads.
STRUCTURE_CROP = 384
#: :func:`residual_structure` leaves out pixels whose denoised value is within this many
#: sigmas of black or white (clipped noise), and reads 0 when less than MIN_UNCLIPPED (share
#: of the crop) is left.
CLIP_MARGIN, MIN_UNCLIPPED = 1.5, 0.1

#: Probe of :func:`read_noise`: up to PROBE_CROPS squares of PROBE_SIZE px, evenly spread.
PROBE_SIZE, PROBE_CROPS = 160, 4
#: Pixels at each probe crop's edge left out of the reading (the network's border effects).
PROBE_MARGIN = 8

DEBLOCK_BELOW = 90
"""Deblock JPEGs saved at a quality below this (at 90 and above blocking is not visible)."""

CAMERA_JPEG_MIN = 50
"""With camera noise, JPEGs of quality CAMERA_JPEG_MIN..DEBLOCK_BELOW-1 go to the camera
step alone (at its sigma the blocks go with the noise: nam_real_noise saved at quality 70,
9 pairs, 41.51 dB vs 41.31 deblocked first and 39.97 with the blind model); below it they
are deblocked first."""

DARK_MEAN_BELOW = 0.15
"""Brighten (task ``lowlight``) when the mean luma (0..1) is below this and ..."""
DARK_HIGH_BELOW = 0.35
"""... the 95th percentile of the luma is below this (the bright parts are dim too: a night
scene with a lit sky or a lamp over 5 % of the frame is left alone). Chosen on the 400
bsd400_color training photos (darkest: mean 0.131 with 95th percentile 0.396); no photo of
bsd400_color, val20, B100, Set5, Set14, LIVE1, Sun-Hays80 or CBSD68 (716 in all) is flagged,
while photos darkened by 3 stops or more mostly are, and so is a real under-exposed flash
photo (kphotoalbum's pool_2: mean 0.147, 95th percentile 0.322; 0.30 missed it)
(docs/benchmarks.md, low-light section)."""

#: Largest number of pixels :func:`exposure` reads (a strided subsample of larger photos).
EXPOSURE_PIXELS = 1_000_000


def exposure(pixels: np.ndarray) -> tuple[float, float]:
    """``(mean, 95th percentile)`` of the luma of HWC ``pixels`` (BT.601 for colour; float
    in [0, 1] or 8/16-bit samples), read on a strided subsample of at most
    :data:`EXPOSURE_PIXELS` pixels."""
    h, w = pixels.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / EXPOSURE_PIXELS))))
    x = to_float32(np.ascontiguousarray(pixels[::step, ::step]))
    y = x[:, :, 0] if x.shape[2] == 1 else x[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return round(float(y.mean()), 4), round(float(np.percentile(y, 95)), 4)


@dataclass(frozen=True)
class NoiseReading:
    """What :func:`read_noise` measured (8-bit units) and decided.

    white: the finest-scale AWGN estimate (:func:`restora.estimate.estimate_sigma`).
    camera: RMS of what the blind real-photo model removes from the flat parts of the probe
        crops (``None``: not measured: gray image, model switched off or not installed,
        sigma given, or too few flat blocks).
    kind: ``"camera"`` (real camera noise: the blind model runs), ``"white"`` (white noise
        at ``white``: the noise-map model runs at that sigma), ``"texture"`` (the white
        estimate reached NOISE_THRESHOLD but what the model would remove follows the
        image's edges: fine texture, left alone) or ``"clean"``.
    structure: :func:`residual_structure` at ``white`` (``None``: not measured).
    """

    white: float
    camera: float | None
    kind: str
    structure: float | None = None

    @property
    def text(self) -> str:
        """The measurement, for people."""
        cam = "" if self.camera is None else f", camera-noise reading {self.camera:.1f} RMS"
        return f"noise: finest-scale sigma {self.white:.1f}{cam} (8-bit units)"


#: Largest centre crop (px per side) the white-noise estimate of :func:`read_noise` reads.
ESTIMATE_CROP = 1024


def _centre(pixels: np.ndarray) -> np.ndarray:
    """The centre ESTIMATE_CROP square (or all) of HWC ``pixels``, as float32 in [0, 1]."""
    h, w = pixels.shape[:2]
    top, left = max(0, (h - ESTIMATE_CROP) // 2), max(0, (w - ESTIMATE_CROP) // 2)
    return to_float32(pixels[top : top + ESTIMATE_CROP, left : left + ESTIMATE_CROP])


def _probe_crops(pixels: np.ndarray) -> list[np.ndarray]:
    """Up to PROBE_CROPS float32 squares of PROBE_SIZE px, one per quadrant's centre."""
    h, w = pixels.shape[:2]
    size = min(PROBE_SIZE, h, w)
    if h * w <= PROBE_CROPS * size * size:
        return [to_float32(pixels)]
    rows = [max(0, min(h - size, round(h * f - size / 2))) for f in (0.25, 0.75)]
    cols = [max(0, min(w - size, round(w * f - size / 2))) for f in (0.25, 0.75)]
    return [to_float32(pixels[r : r + size, c : c + size]) for r in rows for c in cols]


def camera_noise(pixels: np.ndarray, weights: str) -> float | None:
    """RMS (8-bit units) of what the blind real-photo network ``weights`` removes from the
    flat parts of a few crops of ``pixels`` (HWC colour, float in [0, 1] or 8/16-bit
    samples): a learned camera-noise reading. ``None``: too few flat blocks to tell (a busy
    photo is left alone).

    Real camera noise is correlated by demosaicking, sharpening and JPEG, so the
    finest-scale patch estimator sees a fraction of it (0.4 of 3.6 on nam_real_noise); the
    blind model, trained on a camera pipeline, removes it. On texture it also removes
    detail, so only blocks where its output is flat (std below ``FLAT_STD``) are read.
    ``PROBE_MARGIN`` px of each crop are skipped.
    """
    runner = InferenceRunner.for_execution(load_network(weights), Execution(device="cpu"))
    energies = []
    for crop in _probe_crops(pixels):
        out = runner(np.ascontiguousarray(crop, dtype=np.float32)).astype(np.float64)
        m = PROBE_MARGIN if min(crop.shape[:2]) > 4 * PROBE_MARGIN else 0
        r = (crop.astype(np.float64) - out)[m : crop.shape[0] - m, m : crop.shape[1] - m] * 255
        y = out[m : crop.shape[0] - m, m : crop.shape[1] - m] * 255
        h, w = (r.shape[0] // BLOCK) * BLOCK, (r.shape[1] // BLOCK) * BLOCK
        shape = (h // BLOCK, BLOCK, w // BLOCK, BLOCK, r.shape[2])
        flat = y[:h, :w].reshape(shape).std(axis=(1, 3)).mean(axis=-1) < FLAT_STD
        energies.append((r[:h, :w].reshape(shape) ** 2).mean(axis=(1, 3, 4))[flat])
    flat_energy = np.concatenate(energies) if energies else np.zeros(0)
    if flat_energy.size < MIN_FLAT_BLOCKS:
        return None
    return round(float(np.sqrt(flat_energy.mean())), 2)


def camera_sigma(reading: float) -> float:
    """Sigma (8-bit units) the noise-map model runs at for a camera-noise ``reading``:
    CAMERA_SIGMA_PER_RMS x reading, within CAMERA_SIGMA_RANGE, to 0.1."""
    lo, hi = CAMERA_SIGMA_RANGE
    return round(float(np.clip(CAMERA_SIGMA_PER_RMS * reading, lo, hi)), 1)


def residual_structure(pixels: np.ndarray, sigma: float, weights: str) -> float | None:
    """Correlation (-1..1) between the magnitude of what the noise-map network ``weights``
    removes at ``sigma`` (8-bit units; luma of the residual, mean removed) and the gradient
    magnitude of its output, on the centre STRUCTURE_CROP square of HWC ``pixels``. Noise
    is removed everywhere alike (about 0 or below: flat areas lose as much as edges);
    texture mistaken for noise is removed along the image's edges (clearly above 0).

    Pixels whose output lies within ``CLIP_MARGIN`` x sigma of black or white in any channel
    are left out: there the noise was clipped, so little is removed where there is also no
    gradient (crushed shadows, blown highlights, the ends of a full-range ramp), which
    reads as structure on a noisy photo. ``None`` when the network takes no noise level; 0
    for an image thinner than 3 pixels (no gradient to compare with) or with fewer than
    ``MIN_UNCLIPPED`` of its crop away from the clipped ends (nothing to compare)."""
    model = load_network(weights)
    if not model.needs_sigma:
        return None
    h, w = pixels.shape[:2]
    if min(h, w) < 3:
        return 0.0
    top, left = max(0, (h - STRUCTURE_CROP) // 2), max(0, (w - STRUCTURE_CROP) // 2)
    crop = np.ascontiguousarray(
        to_float32(pixels[top : top + STRUCTURE_CROP, left : left + STRUCTURE_CROP]))
    runner = InferenceRunner.for_execution(model, Execution(device="cpu"))
    out = runner(crop, sigma=float(sigma)).astype(np.float64)
    gradient = np.hypot(*np.gradient(out.mean(axis=2)))
    margin = CLIP_MARGIN * float(sigma) / 255.0
    unclipped = (out.min(axis=2) > margin) & (out.max(axis=2) < 1.0 - margin)
    if unclipped.mean() < MIN_UNCLIPPED:
        return 0.0
    removed = (crop - out).mean(axis=2)[unclipped]
    removed = np.abs(removed - removed.mean())
    gradient = gradient[unclipped]
    if removed.std() == 0 or gradient.std() == 0:
        return 0.0
    return round(float(np.corrcoef(removed, gradient)[0, 1]), 3)


def read_noise(pixels: np.ndarray, *, jpeg: bool = False) -> NoiseReading:
    """Measure the noise of HWC ``pixels`` (float in [0, 1] or 8/16-bit samples; read on
    the centre 1024 px square and on four probe crops, so the cost is bounded) and say
    which kind it is.

    jpeg: the photo is a JPEG (the white estimate reads its luma: chroma may be
    subsampled). Colour photos also get the camera-noise reading of the default blind
    real-photo model (:func:`camera_noise`) when one is usable: at or above
    ``CAMERA_THRESHOLD`` it is camera noise unless the white estimate reaches
    ``WHITE_SHARE`` of it (white noise). Otherwise white noise at or above
    ``NOISE_THRESHOLD``, else clean.
    """
    white = round(min(estimate_sigma(_centre(pixels), luma_only=jpeg), SIGMA_MAX), 2)
    camera = None
    if pixels.shape[2] == 3 and weights_enabled() and installed(CAMERA_READER):
        camera = camera_noise(pixels, CAMERA_READER)
    structure = None
    if camera is not None and camera >= CAMERA_THRESHOLD and white < WHITE_SHARE * camera:
        kind = "camera"
    elif white >= NOISE_THRESHOLD:
        model = pick("denoise", channels=pixels.shape[2])
        if model.method is None and model.weights is not None:
            structure = residual_structure(pixels, white, model.weights)
        kind = "texture" if structure is not None and structure >= STRUCTURE_MAX else "white"
    else:
        kind = "clean"
    return NoiseReading(white, camera, kind, structure)


@dataclass(frozen=True)
class Step:
    """One operation of a plan: ``task`` run with the given parameters; ``runs``: what the
    default table picks for it on this image (for messages)."""

    action: str
    task: str
    reason: str
    runs: str
    sigma: float | None = None
    scale: int | None = None
    quality: int | None = None
    noise: str = "white"
    strength: float = 1.0


@dataclass(frozen=True)
class Plan:
    """What the automatic mode decided for one image, and why.

    steps: in execution order. decisions: every reason, steps and things left alone, in the
    order they were decided. detected: the measurements (``noise_sigma`` in 8-bit units,
    ``threshold``, ``jpeg_quality`` or ``None``, ``luma_mean`` and ``luma_p95`` in 0..1).
    """

    steps: tuple[Step, ...]
    decisions: tuple[str, ...]
    detected: dict[str, float | int | None] = field(default_factory=dict)

    def explain(self) -> str:
        """The decisions as a short text, one per line."""
        head = "automatic plan: " + (
            " -> ".join(f"{s.action} ({s.runs})" for s in self.steps) or "nothing to do")
        return "\n".join([head, *(f"  - {d}" for d in self.decisions)])

    @property
    def summary(self) -> str:
        """The decisions as one paragraph (for the web page)."""
        return " ".join(self.decisions)


def plan(
    image: Photo | np.ndarray,
    *,
    sigma: float | None = None,
    scale: int | None = None,
    quality: int | None = None,
) -> Plan:
    """Decide the steps for ``image`` (a :class:`~restora.io.image.Photo` or an HW/HWC array).

    sigma: the noise std (8-bit units) if known; ``None`` estimates it.
    quality: the JPEG quality of the input if known; ``None`` reads it from the photo's JPEG
        file (:func:`restora.io.jpeg_quality.estimate_jpeg_quality`); arrays have none.
    scale: upscaling factor asked for (``None`` = keep the size).
    """
    photo = image if isinstance(image, Photo) else None
    pixels = photo.pixels if photo is not None else to_float32(np.asarray(image))
    channels = pixels.shape[2]
    if scale is not None and (isinstance(scale, bool) or int(scale) != scale or scale < 2):
        raise InvalidParameterError(
            f"scale must be an integer >= 2 (or None to keep the size); got {scale!r}")
    if quality is not None and not 1 <= int(quality) <= 100:
        raise InvalidParameterError(f"quality is a JPEG quality in 1..100; got {quality!r}")
    steps: list[Step] = []
    decisions: list[str] = []

    # 1. JPEG artefacts
    if quality is not None:
        q, where = int(quality), f"given (quality={int(quality)})"
    elif photo is not None:
        q, where = estimate_jpeg_quality(photo), "from the quantisation tables"
    else:
        q, where = None, ""
    reading: NoiseReading | None = None
    if sigma is not None:
        noise, noise_text = float(sigma), f"Noise level sigma = {float(sigma):.1f} (8-bit units, given)"
    else:
        reading = read_noise(pixels, jpeg=q is not None)
        noise = reading.white
        noise_text = f"Estimated noise level sigma = {noise:.1f} (8-bit units)"
        if reading.camera is not None:
            noise_text += f", camera-noise reading {reading.camera:.1f}"
    luma_mean, luma_high = exposure(pixels)
    dark = luma_mean < DARK_MEAN_BELOW and luma_high < DARK_HIGH_BELOW
    camera = reading is not None and reading.kind == "camera"
    together = camera and not dark and q is not None and CAMERA_JPEG_MIN <= q < DEBLOCK_BELOW
    if q is not None and q < DEBLOCK_BELOW and not together:
        runs = pick("deblock", channels=channels).name
        steps.append(Step("deblock", "deblock", f"JPEG quality {q} {where} (below "
                          f"{DEBLOCK_BELOW}): deblocked with {runs}.", runs, quality=q))
        decisions.append(steps[-1].reason)
    elif q is not None:
        decisions.append(f"JPEG quality {q} {where} (at least {DEBLOCK_BELOW}): no visible "
                         "blocking, no deblocking.")
    elif photo is not None:
        decisions.append(f"Not a JPEG ({photo.format or 'unknown format'}): no deblocking.")
    else:
        decisions.append("An array has no JPEG tables: no deblocking (give quality to deblock).")

    # 2. exposure
    if dark:
        runs = pick("lowlight", channels=channels).name
        reason = (f"Under-exposed: mean luma {luma_mean:.3f} (below {DARK_MEAN_BELOW:g}) and 95th "
                  f"percentile {luma_high:.3f} (below {DARK_HIGH_BELOW:g}): brightened with "
                  f"{runs}, colours kept.")
        steps.append(Step("lowlight", "lowlight", reason, runs))
        decisions.append(reason)

    # 3. noise
    if dark:
        denoiser = pick("denoise", channels=channels, noise="shadows").name
        decisions.append(f"{noise_text} on the dark photo; brightening amplifies it, so the "
                         f"lowlight step measures it again afterwards and removes it with "
                         f"{denoiser} (no separate denoising).")
    elif camera:
        assert reading is not None and reading.camera is not None
        runs = pick("denoise", channels=channels, noise="camera").name
        sigma = camera_sigma(reading.camera)
        reason = (f"Camera noise: the blind real-photo model removes {reading.camera:.1f} RMS "
                  f"(8-bit units) from the flat parts of probe crops (at least "
                  f"{CAMERA_THRESHOLD:g}) while the "
                  f"finest-scale estimate reads {reading.white:.1f} (correlated by "
                  f"demosaicking and JPEG, not white): denoised with {runs} at sigma "
                  f"{sigma:g} ({CAMERA_SIGMA_PER_RMS:g} x the reading, within "
                  f"{CAMERA_SIGMA_RANGE[0]:g}-{CAMERA_SIGMA_RANGE[1]:g}: correlated noise needs "
                  "a white-noise denoiser well above its RMS)")
        if together:
            reason += (f", which also removes the artefacts of JPEG quality {q} {where} "
                       "(at that sigma the JPEG's blocks go with the noise), so no separate "
                       "deblocking")
        steps.append(Step("denoise", "denoise", reason + ".", runs, sigma=sigma,
                          noise="camera"))
        decisions.append(steps[-1].reason)
    elif reading is not None and reading.kind == "texture":
        decisions.append(
            f"{noise_text}, at least {NOISE_THRESHOLD:g}, but what {pick('denoise', channels=channels).name} "
            f"would remove at that sigma follows the image's edges (structure "
            f"{reading.structure:.2f}, noise reads below {STRUCTURE_MAX:g}): fine texture, not "
            "noise, so no denoising.")
    elif noise >= NOISE_THRESHOLD:
        runs = pick("denoise", channels=channels).name
        reason = (f"{noise_text}, at least {NOISE_THRESHOLD:g}: denoised with {runs} at "
                  f"sigma {noise:.1f}.")
        steps.append(Step("denoise", "denoise", reason, runs, sigma=noise))
        decisions.append(reason)
    elif scale is None and not steps:
        decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: the photo looks clean, "
                         "so it was kept as is.")
    else:
        decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: no denoising.")

    # 4. size
    if scale is not None:
        runs = pick("upscale", channels=channels, scale=int(scale)).name
        reason = f"Upscale x{int(scale)} asked (scale={int(scale)}): upscaled with {runs}."
        steps.append(Step("upscale", "upscale", reason, runs, scale=int(scale)))
        decisions.append(reason)
    else:
        decisions.append("No upscale asked.")
    detected = {"noise_sigma": noise, "threshold": NOISE_THRESHOLD, "jpeg_quality": q,
                "luma_mean": luma_mean, "luma_p95": luma_high,
                "camera_noise": None if reading is None else reading.camera,
                "camera_threshold": CAMERA_THRESHOLD,
                "structure": None if reading is None else reading.structure}
    return Plan(steps=tuple(steps), decisions=tuple(decisions), detected=detected)


__all__ = ["CAMERA_THRESHOLD", "DARK_HIGH_BELOW", "DARK_MEAN_BELOW", "DEBLOCK_BELOW",
           "NOISE_THRESHOLD", "STRUCTURE_MAX", "NoiseReading", "Plan", "Step", "camera_noise",
           "exposure", "plan", "read_noise", "residual_structure"]
