"""One exception tree for restora.

Every error a user can cause (a bad file, a bad option, a missing extra) is a
:class:`RestoraError`; its message says what was expected, what came, and how to
fix it. The CLI prints the message on one line and exits with status 2; anything
else escaping is a bug.
"""

from __future__ import annotations

from pathlib import Path


class RestoraError(Exception):
    """Base of every user-facing restora error."""


# --- input/output -------------------------------------------------------------------------


class ImageError(RestoraError):
    """A file could not be used as an image. The message names the file."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class ImageReadError(ImageError):
    """Empty, truncated, corrupt or non-image input."""


class UnsupportedFormatError(ImageError):
    """A format or pixel layout restora cannot read or write."""


class DecompressionBombError(ImageError):
    """The image declares more pixels than the configured limit."""


class DecodeBudgetError(DecompressionBombError):
    """Decoding the image would allocate more memory than the decode budget allows."""


class ImageWriteError(ImageError):
    """The output could not be written (nothing is left behind)."""


class OutputExistsError(ImageError):
    """Refused to overwrite an input (or an existing output) without ``overwrite=True``."""


# --- options, methods, models -------------------------------------------------------------


class InvalidParameterError(RestoraError, ValueError):
    """An option is out of range, of the wrong type, or unknown to the method."""


class ShapeError(RestoraError, ValueError):
    """An array or tensor has the wrong shape; the message gives expected and actual."""


class UnknownMethodError(RestoraError, KeyError):
    """No method of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class DuplicateMethodError(RestoraError):
    """A method name was registered twice."""


class ModelLoadError(RestoraError):
    """A weight file could not be read or matched to an architecture."""


class UnsafeModelError(ModelLoadError):
    """A weight file tries to execute code or build arbitrary objects on load."""


class MissingExtraError(RestoraError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""


class MissingDataError(RestoraError):
    """A data file restora does not bundle (e.g. the NIQE pristine model) is not available."""


class DatasetError(RestoraError):
    """An evaluation dataset folder is missing, empty, or unreadable."""


# --- the model zoo ---------------------------------------------------------------------------


class ZooError(ModelLoadError):
    """A zoo model could not be found, downloaded, verified or used (name, licence, network)."""


class LicenceNotAcceptedError(ZooError):
    """A non-commercial (or flagged) zoo model was asked for without ``--accept-licence``."""


class IntegrityError(ZooError):
    """A download's size or SHA-256 does not match the pin; the file was not kept."""


class ZooWarning(UserWarning):
    """Something a zoo user must know (a hash pinned on first download); the CLI shows it."""
