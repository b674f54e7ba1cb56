"""Shared helpers for the web tests: test photos, PSNR, a live uvicorn server on loopback."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

NOISE_SIGMA = 20.0


def noisy_photo(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray, bytes]:
    """(clean uint8 HWC, noisy uint8 HWC, noisy as PNG bytes): astronaut's face + N(0, 20)."""
    from skimage import data

    clean = data.astronaut()[60:60 + size, 180:180 + size]
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean + rng.normal(0.0, NOISE_SIGMA, clean.shape), 0, 255).round().astype(np.uint8)
    return clean, noisy, encode(noisy, "PNG")


def encode(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (peak 255)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + tag + payload
                + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(settings=None) -> Iterator[str]:
    """Run ``create_app(settings)`` under uvicorn on 127.0.0.1 in a thread; yield its URL."""
    import uvicorn

    from restora.web import ServerSettings, create_app

    port = free_port()
    settings = settings or ServerSettings(port=port)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
