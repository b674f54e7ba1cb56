"""Multi-frame photography on arrays: alignment, exposure fusion / HDR, burst merging.

- :mod:`restora.frames.align`: register frames to a reference (MTB, ECC, HDR+ tiles).
- :mod:`restora.frames.fuse`: Mertens exposure fusion, Debevec/Robertson HDR merge and
  tone mapping, ghost removal against the reference frame.
- :mod:`restora.frames.burst`: HDR+ tile-wise Wiener merge, robust temporal mean.

Frames are HWC float32 in [0, 1] (HW accepted), all of one size; nothing is modified in
place. :meth:`restora.run.Restorer.run_frames` runs these on decoded photos (``restora
fuse``, ``restora burst``, the web app).
"""

from __future__ import annotations

from restora.frames.align import ALIGN_METHODS, Alignment, align, warp
from restora.frames.burst import BURST_MERGES, merge
from restora.frames.fuse import (
    HDR_MERGES,
    TONEMAPS,
    deghost,
    exposure_time,
    merge_hdr,
    mertens,
    tonemap,
)

__all__ = ["ALIGN_METHODS", "BURST_MERGES", "HDR_MERGES", "TONEMAPS", "Alignment", "align",
           "deghost", "exposure_time", "merge", "merge_hdr", "mertens", "tonemap", "warp"]
