"""The default weights restora ships, one per task (none yet).

A shipped weight set lives in this folder as ``<name>.safetensors`` with its model card
``<name>.md`` beside it (source, licence, training recipe, expected PSNR on a named set).
When a task has an entry in :data:`DEFAULT_WEIGHTS`, ``restore(task=..., method=None)`` and
the automatic pipeline (:mod:`restora.auto`) run it through :func:`restora.models.load_model`;
otherwise they fall back to the classical :data:`restora.api.DEFAULT_METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from restora.errors import ModelLoadError

WEIGHTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WeightCard:
    """One shipped weight set.

    file / card_path: the weight file and its model card (``.md``), relative to this folder
        or absolute. sha256: hex digest of the weight file (checked before first use).
    channels: channel counts the network takes (1 = gray, 3 = RGB). scale: output / input
        size (1 except for upscalers).
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

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file

    @property
    def card(self) -> Path:
        return WEIGHTS_DIR / self.card_path


#: task -> the weight set used when the caller names the task but no method or model.
DEFAULT_WEIGHTS: dict[str, WeightCard] = {}

_VERIFIED: set[tuple[Path, str]] = set()


def default_model(task: str, channels: int | None = None, scale: int | None = None) -> Path | None:
    """The shipped weight file for ``task`` (checked against its sha256), or ``None``.

    channels / scale: the image's channel count and the asked upscaling factor; a weight set
    that does not take them gives ``None`` (the caller falls back to a classical method).
    Raises :class:`ModelLoadError` when a registered file is missing or altered (a broken
    install).
    """
    card = DEFAULT_WEIGHTS.get(task)
    if card is None:
        return None
    if channels is not None and channels not in card.channels:
        return None
    if task == "upscale" and scale is not None and scale != card.scale:
        return None
    path = card.path
    if (path, card.sha256) not in _VERIFIED:
        from restora.models.loading import sha256_file

        if not path.is_file():
            raise ModelLoadError(
                f"default weights {card.name!r} for {task!r}: {path} is missing; reinstall "
                "restora, or choose a method with --method"
            )
        digest = sha256_file(path)
        if digest != card.sha256:
            raise ModelLoadError(
                f"default weights {card.name!r} for {task!r}: {path} has sha256 {digest}, "
                f"expected {card.sha256}; the file is damaged: reinstall restora"
            )
        _VERIFIED.add((path, card.sha256))
    return path
