"""Regenerate the bundled example photos (deterministic).

``astronaut_noisy.png``: scikit-image's ``astronaut`` (Eileen Collins, NASA photograph, public
domain) with Gaussian noise of sigma 15 (8-bit units), seed 0, clipped and rounded to 8 bits.
Run: ``python examples/make_examples.py``.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).resolve().parent


def main() -> None:
    clean = data.astronaut().astype(np.float64)
    rng = np.random.default_rng(0)
    noisy = np.clip(np.rint(clean + rng.normal(0.0, 15.0, clean.shape)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(HERE / "astronaut_noisy.png", optimize=True)


if __name__ == "__main__":
    main()
