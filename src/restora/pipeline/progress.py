"""Progress of one restoration as people read it: megapixels per second and time left.

The runner reports ``progress(done, total)`` (tiles, or 1000 units per step of the automatic
plan). :class:`Meter` turns that into a :class:`Speed` for an image of known size; the CLI
bar (:func:`restora.console.progress_bar`) and the web jobs (``mp_per_s``, ``eta_s``) show
the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Meter", "Speed", "format_eta"]


@dataclass(frozen=True)
class Speed:
    """One progress report.

    done / total: the runner's steps (tiles). fraction: done / total in [0, 1]. elapsed:
    seconds since the meter started. megapixels_per_s: input megapixels restored per second
    so far (fraction x image megapixels / elapsed); ``None`` before the first step or when
    the image size is unknown. eta_s: seconds left at the speed so far (``None`` before the
    first step).
    """

    done: int
    total: int
    fraction: float
    elapsed: float
    megapixels_per_s: float | None
    eta_s: float | None

    def describe(self) -> str:
        """``"2.41 MP/s, ETA 0:12"`` (the known parts)."""
        parts = []
        if self.megapixels_per_s is not None:
            parts.append(f"{self.megapixels_per_s:.2f} MP/s")
        if self.eta_s is not None:
            parts.append(f"ETA {format_eta(self.eta_s)}")
        return ", ".join(parts)


def format_eta(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; ``3725`` -> ``"1:02:05"``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Meter:
    """Speed and time left of one image of ``megapixels`` (input size; ``None``: unknown).

    Call it as the runner's progress callback: ``meter(done, total)`` returns the
    :class:`Speed` (also kept as :attr:`last`). The clock starts when the meter is made
    (or at :meth:`restart`); ``clock`` is injectable for tests.
    """

    def __init__(self, megapixels: float | None = None, *,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.megapixels = megapixels
        self._clock = clock
        self._start = clock()
        self.last: Speed | None = None

    def restart(self) -> None:
        self._start = self._clock()
        self.last = None

    def __call__(self, done: int, total: int) -> Speed:
        elapsed = max(self._clock() - self._start, 0.0)
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
        rate = eta = None
        if fraction > 0 and elapsed > 0:
            eta = elapsed * (1.0 - fraction) / fraction
            if self.megapixels is not None:
                rate = fraction * self.megapixels / elapsed
        self.last = Speed(done, total, fraction, elapsed, rate, eta)
        return self.last
