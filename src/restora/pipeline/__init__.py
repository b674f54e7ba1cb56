"""Execution pipeline: run any image-to-image function on large images in blended tiles.

``run_tiled`` streams tiles in raster order straight into the output (which may be an
``np.memmap``), so the extra memory is bounded by the tile size, not the image size.
"""

from __future__ import annotations

from restora.pipeline.tiling import (
    crop_to,
    pad_to_multiple,
    run_tiled,
    stream_tiled,
    tile_count,
    tile_grid,
)

__all__ = ["crop_to", "pad_to_multiple", "run_tiled", "stream_tiled", "tile_count", "tile_grid"]
