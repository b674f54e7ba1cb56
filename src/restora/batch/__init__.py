"""Resumable batch restoration of photo folders (local process pool or Ray).

``run_batch(in_dir, out_dir, request)`` restores every image, mirrors sub-folders, and
keeps ``OUT_DIR/.restora/manifest.jsonl`` so that a rerun skips what is done, redoes what
changed, and survives a kill at any moment. ``restora batch`` is its command.
"""

from __future__ import annotations

from restora._lazy import lazy_exports

_LAZY = {
    "run_batch": "restora.batch.core",
    "BatchSummary": "restora.batch.core",
    "FORMATS": "restora.options",
    "read_manifest": "restora.batch.manifest",
    "manifest_path": "restora.batch.manifest",
    "Record": "restora.batch.manifest",
}

__getattr__, __dir__, _ = lazy_exports(__name__, _LAZY)
__all__ = sorted(_LAZY)  # noqa: PLE0605
