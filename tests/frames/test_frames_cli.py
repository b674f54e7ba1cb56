"""``restora fuse`` / ``restora burst`` and ``Restorer.run_frames`` end to end on files the
tests write: colour, gray, 16-bit, EXIF; bad input is one ``error:`` line and no file."""

from __future__ import annotations

import numpy as np
import pytest
from frames_helpers import clean_image, linear_scene, psnr, stops_error, well_exposed
from PIL import Image

from restora.cli import main
from restora.errors import InvalidParameterError
from restora.frames.fuse import mertens
from restora.frames.synthetic import brackets, burst
from restora.io import read_image, write_image
from restora.io.image import Metadata, Photo
from restora.options import Frames, Params, Request
from restora.run import Restorer

TIMES = [0.25, 1.0, 4.0]


def _kind(frames: list[np.ndarray], kind: str) -> list[np.ndarray]:
    if kind == "gray":
        return [f @ np.array([0.299, 0.587, 0.114], np.float32) for f in frames]
    return frames


def _save(frames: list[np.ndarray], folder, kind: str = "colour", suffix: str = ".png") -> list[str]:
    paths = []
    for k, frame in enumerate(_kind(frames, kind)):
        path = folder / f"frame{k}{suffix}"
        array = np.round(np.clip(frame, 0, 1) * (65535 if kind == "16bit" else 255))
        write_image(array.astype(np.uint16 if kind == "16bit" else np.uint8), path)
        paths.append(str(path))
    return paths


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("kind", ["colour", "gray", "16bit"])
def test_fuse_writes_the_mertens_fusion(tmp_path, kind):
    frames = brackets(linear_scene(size=128, stops=6), TIMES)
    paths = _save(frames, tmp_path, kind)
    out = tmp_path / "fused.png"
    assert main(["fuse", *paths, "-o", str(out)]) == 0
    photo = read_image(out)
    decoded = [read_image(p).pixels for p in paths]
    assert photo.channels == decoded[0].shape[2] and photo.bit_depth == (16 if kind == "16bit" else 8)
    tolerance = 1.5 / 255 if kind != "16bit" else 0.5 / 255
    assert np.abs(photo.pixels - mertens(decoded)).mean() < tolerance


def test_fuse_with_times_writes_radiance_and_a_tone_mapped_photo(tmp_path):
    rad = linear_scene(size=128, stops=6)
    frames = brackets(rad, TIMES)
    paths = _save(frames, tmp_path)
    out, hdr, tif = tmp_path / "hdr.png", tmp_path / "scene.hdr", tmp_path / "scene.tif"
    assert main(["fuse", *paths, "-o", str(out), "--times", "1/4,1,4", "--hdr", str(hdr)]) == 0
    assert out.is_file() and hdr.is_file()
    import cv2

    radiance = cv2.imread(str(hdr), cv2.IMREAD_UNCHANGED)[..., ::-1]
    mask = well_exposed(frames)
    assert stops_error(radiance, rad, mask) < 0.15  # RGBE keeps 8 bits of mantissa
    assert main(["fuse", *paths, "-o", str(tmp_path / "b.png"), "--times", "0.25,1,4",
                 "--hdr", str(tif), "--merge", "robertson", "--tonemap", "gamma"]) == 0
    import tifffile

    assert tifffile.imread(tif).dtype == np.float32
    assert stops_error(tifffile.imread(tif), rad, mask) < 0.2


def test_fuse_takes_exif_times_and_keeps_the_reference_frames_metadata(tmp_path, capsys):
    rad = linear_scene(size=128, stops=6)
    paths = []
    for k, (frame, t) in enumerate(zip(brackets(rad, TIMES), TIMES)):
        exif = Image.Exif()
        exif[0x0110] = f"camera-{k}"  # Model: tells the frames apart
        exif.get_ifd(0x8769)[0x829A] = t
        path = tmp_path / f"b{k}.jpg"
        Image.fromarray((frame * 255).round().astype(np.uint8)).save(path, quality=95, exif=exif)
        paths.append(str(path))
    out = tmp_path / "out.jpg"
    assert main(["fuse", *paths, "-o", str(out), "--explain"]) == 0
    assert "debevec" in capsys.readouterr().err  # the EXIF times were found
    with Image.open(out) as im:
        assert im.getexif()[0x0110] == "camera-1"  # the middle exposure is the reference
    out2 = tmp_path / "out2.jpg"
    assert main(["fuse", *paths, "-o", str(out2), "--reference", "2", "--merge", "mertens"]) == 0
    with Image.open(out2) as im:
        assert im.getexif()[0x0110] == "camera-2"


@pytest.mark.parametrize("kind", ["colour", "gray", "16bit"])
def test_burst_merges_and_denoises(tmp_path, kind):
    clean, frames, _ = burst(clean_image(size=200), 6, size=(128, 128), max_shift=4,
                             max_rotation=0.5, sigma=20, rng=np.random.default_rng(5))
    paths = _save(frames, tmp_path, kind)
    clean = _kind([clean], kind)[0]
    clean = clean if clean.ndim == 3 else clean[..., None]
    single = psnr(read_image(paths[0]).pixels, clean)
    merged_only, denoised = tmp_path / "merged.png", tmp_path / "denoised.png"
    assert main(["burst", *paths, "-o", str(merged_only), "--no-denoise"]) == 0
    merged_psnr = psnr(read_image(merged_only).pixels, clean)
    assert merged_psnr > single + 4, (single, merged_psnr)
    assert read_image(merged_only).bit_depth == (16 if kind == "16bit" else 8)
    if kind == "16bit":
        return  # the denoiser's 16-bit path is restora restore's, tested there
    assert main(["burst", *paths, "-o", str(denoised)]) == 0
    denoised_psnr = psnr(read_image(denoised).pixels, clean)
    assert denoised_psnr > merged_psnr + 1, (merged_psnr, denoised_psnr)


def test_run_frames_keeps_the_reference_photo_and_reports(tmp_path):
    _, frames, _ = burst(clean_image(size=160), 3, size=(96, 96), sigma=10,
                         rng=np.random.default_rng(2))
    photos = [Photo(pixels=f, metadata=Metadata(icc=f"profile-{k}".encode()), bit_depth=8)
              for k, f in enumerate(frames)]
    restorer = Restorer()
    merged, report = restorer.run_frames(photos, Frames(merge="mean", reference=1,
                                                        denoise=False), Params(sigma=10))
    assert merged.metadata.icc == b"profile-1" and report.reference == 1 and report.frames == 3
    assert report.sigma is not None and 10 / np.sqrt(3) - 0.5 < report.sigma < 10
    assert "Merged 3 frames (mean" in report.decision
    with pytest.raises(InvalidParameterError, match="give merge"):
        restorer.run_frames(photos, Frames())
    with pytest.raises(InvalidParameterError, match="fuse takes no scale"):
        restorer.run_frames(photos, Frames(merge="mertens"), Params(scale=2))
    with pytest.raises(InvalidParameterError, match="task 'upscale' does not apply"):
        Restorer(Request.from_mapping({"task": "upscale"}).choice).run_frames(
            photos, Frames(merge="burst"))


def _bad_cases(tmp_path):
    frames = brackets(linear_scene(size=64, stops=4), TIMES)
    paths = _save(frames, tmp_path)
    small = tmp_path / "small.png"
    write_image((frames[0][:32, :48] * 255).astype(np.uint8), small)
    gray = tmp_path / "gray.png"
    write_image((frames[0][..., 0] * 255).astype(np.uint8), gray)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    existing = tmp_path / "existing.png"
    existing.write_bytes(b"keep me")
    return paths, {
        "one frame": (["fuse", paths[0]], "at least 2 frames", None),
        "sizes": (["fuse", paths[0], str(small)], "small.png: 48x32 pixels", None),
        "unreadable": (["burst", paths[0], str(text)], "notes.png", None),
        "channels": (["burst", paths[0], str(gray)], "gray.png is gray", None),
        "times count": (["fuse", *paths, "--times", "1,2"], "2 exposure time(s) for 3 frames", None),
        "bad times": (["fuse", *paths, "--times", "fast"], "times must be exposure times", None),
        "hdr needs times": (["fuse", *paths, "--hdr", str(tmp_path / "x.hdr")], "--hdr needs", None),
        "hdr suffix": (["fuse", *paths, "--times", "1,2,4", "--hdr", str(tmp_path / "x.jpg")],
                       "radiance map", None),
        "merge of burst": (["fuse", *paths, "--merge", "wiener"], "restora fuse merges with", None),
        "reference": (["burst", *paths, "--reference", "5"], "reference 5", None),
        "exists": (["burst", *paths], "existing.png: already exists", existing),
    }


@pytest.mark.parametrize("case", ["one frame", "sizes", "unreadable", "channels", "times count",
                                  "bad times", "hdr needs times", "hdr suffix", "merge of burst",
                                  "reference", "exists"])
def test_bad_input_is_one_error_line_and_nothing_written(tmp_path, capsys, case):
    _, cases = _bad_cases(tmp_path)
    args, message, target = cases[case]
    out = target or tmp_path / "out.png"
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([*args, "-o", str(out)]) == 2
    line = _one_error_line(capsys)
    assert message in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temp file
    if target is not None:
        assert target.read_bytes() == b"keep me"
