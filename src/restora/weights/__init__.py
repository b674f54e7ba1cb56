"""The default weights restora ships: our own training runs, one per task and image kind.

A shipped weight set lives in this folder as ``<name>.safetensors`` with its model card
``<name>.md`` beside it (architecture, data, degradation, recipe, steps, seed, hardware,
wall time, validation and test PSNR). :data:`DEFAULT_WEIGHTS` lists them. They are named by the default table (:mod:`restora.defaults`), which decides per task and image
which one runs; any card is also chosen by name: ``--model upscale_real_x4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from restora import zoo
from restora.errors import ModelLoadError
from restora.io.atomic import file_sha256

WEIGHTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WeightCard:
    """One shipped weight set.

    file / card_path: the weight file and its model card (``.md``), relative to this folder
        or absolute. sha256: hex digest of the weight file (checked before first use).
    channels: channel counts of the images it serves (1 = gray, 3 = RGB). scale: output /
        input size (1 except for upscalers). luma: a 1-channel network that serves colour
        images through their luma (JFIF Y; chroma kept).
    bf16_loss_db: largest PSNR loss (dB) of bf16 autocast against fp32 over the model's
        reference sets and levels (``benchmarks/cpu_precision.py``); ``--precision auto``
        runs it in bf16 on a CPU with native bf16 only when this is at most
        ``restora.models.inference.BF16_MAX_LOSS_DB``. ``None``: not measured (fp32).
    """

    name: str
    task: str
    file: str | Path
    sha256: str
    card_path: str | Path
    channels: tuple[int, ...] = (3,)
    scale: int = 1
    licence: str = ""
    description: str = ""
    luma: bool = False
    bf16_loss_db: float | None = None

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file

    @property
    def card(self) -> Path:
        return WEIGHTS_DIR / self.card_path


#: Shipped weight sets, in order of preference per task.
DEFAULT_WEIGHTS: tuple[WeightCard, ...] = (
    WeightCard(
        name="denoise_gray", task="denoise", file="denoise_gray.safetensors",
        sha256="eb418dc994715d9d504fb827e99cc1a654adf9a3247ddd21c81412332a4090a3",
        card_path="denoise_gray.md", channels=(1,), licence="Apache-2.0",
        description="blind gray Gaussian denoiser, sigma 0-50 (small DRUNet; BSD68 s25 29.20 dB)",
        bf16_loss_db=0.0017,  # BSD68 s15/s25/s50, benchmarks/cpu_precision.py --full (card)
    ),
    WeightCard(
        name="denoise_color", task="denoise", file="denoise_color.safetensors",
        sha256="f6322d6675c98876df49a933c013299c4a684625d7a76b790a143153ab241d8c",
        card_path="denoise_color.md", channels=(3,), licence="Apache-2.0",
        description="blind colour denoiser, sigma 0-50 and camera noise (small DRUNet; CBSD68 s25 31.25 dB)",
        bf16_loss_db=0.0088,  # CBSD68 s15/s25/s50, OpenVINO bf16 (torch autocast: 0.0005) (card)
    ),
    WeightCard(
        name="denoise_real", task="denoise", file="denoise_real.safetensors",
        sha256="7df5ec501015410d83d544e4f0945a88385f9b0598af48a91b6d58a0825efdbb",
        card_path="denoise_real.md", channels=(3,), licence="Apache-2.0",
        description="blind real-photo denoiser: camera noise of phones and cameras, no sigma (small DRUNet)",
        bf16_loss_db=0.093,  # nam_real_noise x4: over 0.02, so fp32 (card)
    ),
    WeightCard(
        name="deblock_gray", task="deblock", file="deblock_gray.safetensors",
        sha256="d62e7ee89954986a73ba259f698e8c6e9ea5da883e6e4565a928fd3286eebb3b",
        card_path="deblock_gray.md", channels=(1, 3), luma=True, licence="Apache-2.0",
        description="blind JPEG deblocker, quality 10-90, on the luma of colour photos (classic5 q10 29.42 dB)",
        # classic5 + LIVE1 q10-q40 (the published levels), benchmarks/cpu_precision.py --full (card);
        # above them OpenVINO bf16 loses more: 0.020-0.029 at q60-80, 0.051 at q89 (card)
        bf16_loss_db=0.0179,
    ),
    WeightCard(
        name="upscale_x4", task="upscale", file="upscale_x4.safetensors",
        sha256="f2fb33307353ccfcbc47b813d35cdf22c3c29c8580aed5b7593de8679ea1622d",
        card_path="upscale_x4.md", channels=(3,), scale=4, licence="Apache-2.0",
        description="x4 upscaler for clean (bicubic) inputs (Real-ESRGAN-style compact net; Set5 31.47 dB Y)",
        bf16_loss_db=0.0007,  # Set5 + B100 x4, benchmarks/cpu_precision.py (card)
    ),
    WeightCard(
        name="upscale_x2", task="upscale", file="upscale_x2.safetensors",
        sha256="9f54b368076df179ebc413f172f3f7b2d09238fe2a5c084f1b612c74851378dd",
        card_path="upscale_x2.md", channels=(3,), scale=2, licence="Apache-2.0",
        description="x2 upscaler for clean (bicubic) inputs (Real-ESRGAN-style compact net; Set5 37.56 dB Y)",
        bf16_loss_db=0.0060,  # Set5 + B100 x2, benchmarks/cpu_precision.py (card)
    ),
    WeightCard(
        name="upscale_real_x4", task="upscale", file="upscale_real_x4.safetensors",
        sha256="a8658b4ac323f2e86658b916059689df497de7346ce5c8db299b45eaf23d79d6",
        card_path="upscale_real_x4.md", channels=(3,), scale=4, licence="Apache-2.0",
        description="blind x4 upscaler for real photos: also removes blur, noise and JPEG (by name only)",
        bf16_loss_db=0.011,  # Set5 x4: OpenVINO bf16 0.011, torch autocast 0.0047 (card)
    ),
    WeightCard(
        name="diffusion_prior", task="denoise", file="diffusion_prior.safetensors",
        sha256="79d05313a40ea28dc3e4139b38b9a03d06b1bf33aa571a8ec3fd980448b0c120",
        card_path="diffusion_prior.md", channels=(3,), licence="Apache-2.0",
        description="EDM diffusion prior D(x; sigma), sigma 0.25-10200: the prior of the diffpir method",
    ),
    WeightCard(
        name="lowlight", task="lowlight", file="lowlight.safetensors",
        sha256="f43a1d208e4f7c6ede808f71fdc41d2ed07fcec5e39633e909e6fd8f26075c3f",
        card_path="lowlight.md", channels=(3,), licence="Apache-2.0",
        description="Zero-DCE++ low-light curve estimator, colours kept (10k parameters; run by "
                    "the zerodce method, gray photos as R = G = B)",
        bf16_loss_db=0.0025,  # darkened CBSD68 x4, benchmarks/cpu_precision.py (card)
    ),
)

_VERIFIED: set[tuple[Path, str]] = set()


def find_card(name: str) -> WeightCard | None:
    """The shipped card called ``name`` (e.g. ``"upscale_real_x4"``), or ``None``."""
    return next((c for c in DEFAULT_WEIGHTS if c.name == name), None)


#: Set to "off" to run the classical defaults instead of the shipped weights (named weight
#: sets stay available with ``--model NAME``); read by :mod:`restora.defaults`.
ENV_SWITCH = "RESTORA_DEFAULT_WEIGHTS"


def installed(name: str) -> bool:
    """True when the shipped weight set ``name`` exists and its file is present (a slim
    install may leave the files out; the default table then falls back to classical
    methods)."""
    card = find_card(name)
    return card is not None and card.path.is_file()


def verified_path(card: WeightCard) -> Path:
    """``card``'s weight file, checked against its sha256 once per process.

    Raises :class:`ModelLoadError` when the file is missing or altered (a broken install).
    """
    path = card.path
    if (path, card.sha256) not in _VERIFIED:
        if not path.is_file():
            raise ModelLoadError(
                f"default weights {card.name!r} for {card.task!r}: {path} is missing; reinstall "
                "restora, or choose a method with --method"
            )
        digest = file_sha256(path)
        if digest != card.sha256:
            raise ModelLoadError(
                f"default weights {card.name!r} for {card.task!r}: {path} has sha256 {digest}, "
                f"expected {card.sha256}; the file is damaged: reinstall restora"
            )
        _VERIFIED.add((path, card.sha256))
    return path


def model_path(model: str | Path, *, accept_licence: bool = False) -> Path:
    """The file behind ``--model``: a shipped weight set's name (checked against its sha256),
    a zoo model's name (downloaded on first use, verified; :mod:`restora.zoo`) or a path as
    given. ``accept_licence``: allow a zoo model with non-commercial or flagged terms."""
    if Path(model).exists():
        return Path(model)
    card = find_card(str(model))
    if card is not None:
        return verified_path(card)
    if zoo.find(str(model)) is not None:
        return zoo.pull(str(model), accept_licence=accept_licence)
    return Path(model)
