"""Every entry point x every task x every kind of image, with the shipped default weights on.

Entry points: the API on arrays, ``restore_file``, ``restora restore``, ``restora batch``
(local engine) and the web API through a real server on 127.0.0.1. Tasks: auto, denoise,
deblock, upscale x2 and x4, deblur, inpaint. Image kinds: gray PNG, RGB JPEG with EXIF and an
ICC profile, RGBA PNG, 16-bit RGB TIFF. The test makes each degraded input from a clean image
and checks that every output decodes with the right size, channels, bit depth, alpha and
metadata, that it is closer to the clean image than the input was (for upscaling: than a
bicubic upscaling of the input), and that the files from the four file entry points are the
same bytes.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

import restora
from restora import degrade
from restora.cli import main
from restora.io import from_float32, read_image
from restora.metrics import psnr

SIZE = 96
KINDS = {"gray": "gray.png", "jpeg": "photo.jpg", "rgba": "rgba.png", "rgb16": "rgb16.tif"}
#: task name -> (restore options, output scale)
TASKS = {
    "auto": ({}, 1),
    "denoise": ({"task": "denoise"}, 1),
    "deblock": ({"task": "deblock"}, 1),
    "upscale2": ({"task": "upscale", "scale": 2}, 2),
    "upscale4": ({"task": "upscale", "scale": 4}, 4),
    "deblur": ({"task": "deblur", "kernel": "gauss:1.6"}, 1),
    "inpaint": ({"task": "inpaint"}, 1),
}
CAMERA_MAKE = "restora-test-camera"


def _clean(kind: str) -> np.ndarray:
    """The clean image of a kind, HWC float in [0, 1] (16-bit precision for rgb16)."""
    from skimage import data

    if kind == "gray":
        return data.camera()[160:160 + SIZE, 200:200 + SIZE, None].astype(np.float64) / 255
    rgb = data.astronaut()[40:40 + SIZE, 180:180 + SIZE].astype(np.float64) / 255
    if kind == "rgb16":  # a smooth 16-bit signal with detail below one 8-bit step
        ramp = np.linspace(0, 1 / 255, SIZE)[None, :, None]
        rgb = np.clip(rgb + ramp, 0, 1)
    return rgb


def _alpha() -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return np.rint(255 * (0.25 + 0.75 * (xx + yy) / (2 * SIZE - 2))).astype(np.uint8)


def _missing() -> np.ndarray:
    """Pixels to fill: a few thin strokes (what a user paints over scratches)."""
    m = np.zeros((SIZE, SIZE), bool)
    m[20:23, 10:80] = m[40:80, 60:63] = m[70:73, 15:50] = True
    return m


def _degrade(task: str, clean: np.ndarray) -> tuple[np.ndarray, int | None]:
    """(degraded HWC float image, JPEG quality to save the JPEG kind at or None)."""
    if task in ("auto", "denoise"):
        return degrade.add_gaussian_noise(clean, 15, seed=1), None
    if task == "deblock":  # the JPEG kind is saved at quality 20 itself
        return degrade.jpeg_compress(clean, 20), 20
    if task.startswith("upscale"):
        s = int(task[-1])
        return degrade.imresize(clean, 1 / s), None
    if task == "deblur":
        blurred = degrade.blur(clean, degrade.parse_kernel("gauss:1.6"), boundary="reflect")
        return degrade.add_gaussian_noise(blurred, 2.55, seed=2), None
    return np.where(_missing()[:, :, None], 1.0, clean), None  # inpaint: white scratches


def _save(kind: str, pixels: np.ndarray, path: Path, quality: int | None) -> None:
    x = np.clip(pixels, 0, 1)
    if kind == "rgb16":
        import tifffile

        tifffile.imwrite(path, np.rint(x * 65535).astype(np.uint16), photometric="rgb")
        return
    u8 = np.rint(x * 255).astype(np.uint8)
    if kind == "gray":
        Image.fromarray(u8[..., 0], "L").save(path)
    elif kind == "rgba":
        alpha = _alpha()
        if u8.shape[0] != SIZE:
            alpha = np.asarray(Image.fromarray(alpha).resize(u8.shape[1::-1], Image.BICUBIC))
        Image.fromarray(np.dstack([u8, alpha]), "RGBA").save(path)
    else:
        exif = Image.Exif()
        exif[0x010F] = CAMERA_MAKE
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        Image.fromarray(u8, "RGB").save(path, "JPEG", quality=quality or 95, exif=exif.tobytes(),
                                        icc_profile=icc)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """``in/<task>/<kind file>`` for every task and kind, and ``mask.png``."""
    root = tmp_path_factory.mktemp("matrix")
    Image.fromarray((_missing() * 255).astype(np.uint8)).save(root / "mask.png")
    for task in TASKS:
        folder = root / "in" / task
        folder.mkdir(parents=True)
        for kind, name in KINDS.items():
            degraded, quality = _degrade(task, _clean(kind))
            if kind == "jpeg" and quality is not None:
                degraded = _clean(kind)
            _save(kind, degraded, folder / name, quality)
    return root


def _options(task: str, root: Path) -> dict:
    options = dict(TASKS[task][0])
    if task == "inpaint":
        options["mask"] = str(root / "mask.png")
    return options


def _flags(options: dict) -> list[str]:
    return [part for k, v in options.items() for part in (f"--{k}", str(v))]


@pytest.fixture(scope="module")
def outputs(inputs: Path) -> dict[str, Path]:
    """Every file entry point run on every task and kind: entry point -> output root, where
    ``<root>/<task>/<kind file>`` is the result."""
    roots = {name: inputs / name for name in ("restore_file", "cli", "batch", "web")}
    for task in TASKS:
        options = _options(task, inputs)
        source = inputs / "in" / task
        files = [source / name for name in KINDS.values()]
        for path in files:
            restora.restore_file(path, roots["restore_file"] / task / path.name, **options)
        target = roots["cli"] / task
        assert main(["restore", *map(str, files), "-o", str(target), *_flags(options)]) == 0
        code = main(["batch", str(source), str(roots["batch"] / task), "--workers", "1",
                     *_flags(options)])
        assert code == 0
    _run_web(inputs, roots["web"])
    return roots


def _run_web(root: Path, out: Path) -> None:
    from tests.web.web_helpers import live_server

    with live_server() as base:
        url = base + "/"
        for task in TASKS:
            options = {k: v for k, v in _options(task, root).items() if k != "mask"}
            fields = [(k, str(v)) for k, v in options.items()] + [("format", "same")]
            files = [("files", name, (root / "in" / task / name).read_bytes()) for name in KINDS.values()]
            if task == "inpaint":
                files.append(("mask", "mask.png", (root / "mask.png").read_bytes()))
            job = _post(url + "api/jobs", fields, files)
            deadline = time.monotonic() + 120
            while job["finished"] is None:
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
                job = json.loads(urllib.request.urlopen(url + f"api/jobs/{job['id']}").read())
            for image in job["images"]:
                assert image["status"] == "done", image
                data = urllib.request.urlopen(url + f"api/jobs/{job['id']}/results/{image['index']}").read()
                (out / task).mkdir(parents=True, exist_ok=True)
                (out / task / image["name"]).write_bytes(data)


def _post(url: str, fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> dict:
    boundary = "restora-matrix-boundary"
    body = io.BytesIO()
    for name, value in fields:
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                   f"{value}\r\n".encode())
    for name, filename, data in files:
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                   f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(url, data=body.getvalue(), method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    return json.loads(urllib.request.urlopen(request).read())


def _quantised(photo) -> np.ndarray:
    return photo.pixels.astype(np.float64)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_are_right_and_better_than_the_input(outputs, inputs, task, kind):
    name = KINDS[kind]
    scale = TASKS[task][1]
    source = read_image(inputs / "in" / task / name)
    clean = _clean(kind)
    out = read_image(outputs["restore_file"] / task / name)
    # decodable, right size, channels, bit depth; alpha and metadata carried
    assert (out.height, out.width) == (SIZE, SIZE) == (source.height * scale, source.width * scale)
    assert out.channels == source.channels == (1 if kind == "gray" else 3)
    assert out.bit_depth == source.bit_depth == (16 if kind == "rgb16" else 8)
    assert out.format == source.format
    if kind == "rgba":
        assert out.alpha is not None
        if scale == 1:
            np.testing.assert_array_equal(out.alpha, source.alpha)
        else:
            assert np.abs(out.alpha[..., 0] - _alpha() / 255).mean() < 0.01
    if kind == "jpeg":
        assert out.metadata.icc == source.metadata.icc is not None
        assert CAMERA_MAKE.encode() in out.metadata.exif
    # closer to the clean image than the input
    if scale == 1:
        before = psnr(clean, _quantised(source))
    else:
        before = psnr(clean, degrade.imresize(_quantised(source), float(scale)))
    after = psnr(clean, _quantised(out))
    assert after > before, f"{task} on {kind}: {before:.2f} -> {after:.2f} dB"


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_entry_point_writes_the_same_bytes(outputs, task, kind):
    name = KINDS[kind]
    reference = (outputs["restore_file"] / task / name).read_bytes()
    for entry in ("cli", "batch", "web"):
        assert (outputs[entry] / task / name).read_bytes() == reference, f"{entry}: {task} on {kind}"


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind", ["gray", "rgba", "rgb16"])
def test_the_array_api_gives_the_same_pixels(outputs, inputs, task, kind):
    """Arrays in, arrays out: the same result as the file path, in the caller's dtype (the
    JPEG kind is left out: an array has no JPEG tables for the noise estimate to use)."""
    name = KINDS[kind]
    photo = read_image(inputs / "in" / task / name)
    depth = np.uint16 if kind == "rgb16" else np.uint8
    array = from_float32(photo.pixels, depth)
    options = _options(task, inputs)
    if "mask" in options:
        options["mask"] = _missing()
    result = restora.restore(array, **options)
    assert result.dtype == depth and result.shape == (SIZE, SIZE, photo.channels)
    expected = from_float32(read_image(outputs["restore_file"] / task / name).pixels, depth)
    np.testing.assert_array_equal(result, expected)
