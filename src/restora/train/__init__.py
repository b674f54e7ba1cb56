"""Training: typed recipes (TOML/YAML), seeded on-the-fly degradations, a resumable trainer.

``train(load_config("configs/default_denoise_gray.toml"))`` trains and exports
``OUTPUT/model.safetensors`` (loadable with :func:`restora.models.load_model`); the CLI is
``restora train CONFIG [--resume] [--max-steps N] [--device cpu|cuda]``. Names are loaded
on first use, so importing this package does not import torch.
"""

from __future__ import annotations

from restora._lazy import lazy_exports

_LAZY = {
    "TrainConfig": "restora.train.config",
    "DataConfig": "restora.train.config",
    "DegradationConfig": "restora.train.config",
    "ModelConfig": "restora.train.config",
    "OptimConfig": "restora.train.config",
    "load_config": "restora.train.config",
    "config_from_dict": "restora.train.config",
    "train": "restora.train.trainer",
    "TrainResult": "restora.train.trainer",
    "PatchSampler": "restora.train.data",
    "degrade": "restora.train.data",
    "sr_pair": "restora.train.data",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
