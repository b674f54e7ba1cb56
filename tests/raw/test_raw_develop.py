"""Camera RAW development (restora.io.raw_develop and the runner's RAW path), on DNG files
the tests write: a known scene -> unprocess -> RGGB mosaic -> Poisson-Gaussian noise ->
16-bit DNG that LibRaw opens (tests/raw/raw_builders.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from raw_builders import psnr, scene, shoot, write_dng

from restora.api import restore_file
from restora.cli import main
from restora.degrade.camera import RGB2XYZ
from restora.errors import InvalidParameterError, ShapeError
from restora.io import image_info, read_image
from restora.io import raw_develop as rd
from restora.io._meta import exif_summary
from restora.options import Choice, Params
from restora.run import Restorer

pytest.importorskip("rawpy")

#: Round-trip floors on the 128x192 test scene (measured: ISO 3200 seed 2, 28.0 dB restored
#: vs 23.5 dB noisy; ISO 800 seed 1 to JPEG q95: see test_api_jpeg_output_keeps_exif_and_denoises).
FLOOR_ISO3200 = 27.0
MARGIN_ISO3200 = 3.5


@pytest.fixture(scope="module")
def small_scene() -> np.ndarray:
    return scene(128, 192)


@pytest.fixture(scope="module")
def iso3200(small_scene, tmp_path_factory):
    """(shot, DNG path) at ISO 3200."""
    shot = shoot(small_scene, iso=3200, seed=2)
    return shot, write_dng(tmp_path_factory.mktemp("dng") / "iso3200.dng", shot, iso=3200)


def reference(raw: rd.RawMosaic, mosaic: np.ndarray) -> np.ndarray:
    """``mosaic`` developed with the camera of ``raw`` (no denoising)."""
    return rd.develop(mosaic, raw.pattern, wb=raw.wb, cam2rgb=raw.cam2rgb)


# --- decoding --------------------------------------------------------------------------------


def test_libraw_opens_the_dng_and_reads_back_what_was_written(iso3200):
    shot, path = iso3200
    raw = rd.read_raw(path)
    assert raw.pattern == "RGGB" and raw.data.dtype == np.float32
    np.testing.assert_allclose(raw.data, shot.noisy, atol=1e-6)  # (raw - black) / (white - black)
    assert raw.data.min() < 0  # readings below black are kept
    np.testing.assert_allclose(raw.wb, shot.wb / shot.wb.min(), rtol=1e-3)  # 1 / AsShotNeutral
    cam_rgb = shot.xyz2cam @ RGB2XYZ
    cam_rgb /= cam_rgb.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(raw.cam2rgb, np.linalg.inv(cam_rgb), atol=2e-3)  # ColorMatrix1
    assert raw.iso == 3200 and raw.orientation == 1 and raw.noise_profile is None
    exif = exif_summary(raw.exif)
    assert exif["Make"] == "Restora" and exif["Model"] == "Synthetic RGGB"
    assert exif["ISO"] == 3200 and math.isclose(exif["ExposureTime"], 1 / 125)
    assert exif["DateTimeOriginal"] == "2025:03:04 05:06:07" and exif["Orientation"] == 1


@pytest.mark.parametrize("pattern", ["GRBG", "GBRG", "BGGR"])
def test_every_bayer_layout_develops_like_rggb(iso3200, tmp_path, pattern):
    shot, path = iso3200
    rggb = rd.read_raw(path)
    top, left = {"GRBG": (0, 1), "GBRG": (1, 0), "BGGR": (1, 1)}[pattern]
    other = write_dng(tmp_path / f"{pattern}.dng", shot, mosaic=shot.noisy[top:, left:],
                      pattern=pattern)
    raw = rd.read_raw(other)
    assert raw.pattern == pattern
    ours = reference(raw, raw.data)
    expected = reference(rggb, rggb.data)[top:, left:]
    inner = (slice(4, -4), slice(4, -4))  # borders are mirrored differently
    assert np.abs(ours[inner] - expected[inner]).max() < 2e-3


def test_orientation_is_applied_after_development(iso3200, tmp_path):
    shot, _ = iso3200
    upright = rd.develop_raw(rd.read_raw(write_dng(tmp_path / "a.dng", shot))).photo
    turned = rd.develop_raw(rd.read_raw(write_dng(tmp_path / "b.dng", shot,
                                                  orientation=6))).photo
    assert turned.pixels.shape == (192, 128, 3)
    np.testing.assert_allclose(turned.pixels, np.rot90(upright.pixels, -1), atol=1e-6)


def test_pack_and_unpack_are_inverse_for_any_size():
    rng = np.random.default_rng(0)
    for shape in ((8, 12), (9, 12), (8, 13), (7, 5)):
        mosaic = rng.random(shape)
        planes = rd.pack(mosaic)
        assert planes.shape == (-(-shape[0] // 2), -(-shape[1] // 2), 4)
        assert np.array_equal(rd.unpack(planes, shape), mosaic)
        sub = mosaic[1::2, 1::2]
        assert np.array_equal(planes[: sub.shape[0], : sub.shape[1], 3], sub)
    with pytest.raises(ShapeError):
        rd.pack(np.zeros((4, 4, 3)))


# --- noise model -----------------------------------------------------------------------------


def test_iso_relation_is_the_documented_log_linear_one():
    base = rd.noise_from_iso(100)
    assert math.isclose(base.shot, 1e-4) and base.source == "ISO 100"
    assert math.isclose(rd.noise_from_iso(12000).shot, 1.2e-2)  # Brooks et al.'s top
    high = rd.noise_from_iso(3200)
    assert math.isclose(high.shot, 32 * base.shot)
    assert math.isclose(math.log(high.read), 2.18 * math.log(high.shot) + 1.20)
    with pytest.raises(ValueError):
        rd.noise_from_iso(0)


@pytest.mark.parametrize("iso", [1600, 6400])
def test_noise_estimate_recovers_shot_and_read(iso):
    """Known variances (restora's ISO relation) on a 256x384 mosaic: shot within 15 %, read
    within 35 % (measured over seeds 0-3: shot 0.94-1.05, read 1.00-1.23 of the truth)."""
    shot = shoot(scene(256, 384), iso=iso, seed=0)
    est = rd.estimate_raw_noise(shot.noisy)
    assert est.source == "estimated from the mosaic" and len(est.channels) == 4
    assert abs(est.shot / shot.shot - 1) < 0.15, (est, shot.shot)
    assert abs(est.read / shot.read - 1) < 0.35, (est, shot.read)
    for plane_shot, _ in est.channels:
        assert abs(plane_shot / shot.shot - 1) < 0.25


def test_noise_estimate_on_pure_noise_is_unbiased():
    rng = np.random.default_rng(3)
    x = np.repeat(np.linspace(0.02, 0.8, 16), 16)[None, :].repeat(256, 0)  # 256 x 256 steps
    z = x + rng.standard_normal(x.shape) * np.sqrt(0.004 * x + 2e-5)
    est = rd.estimate_raw_noise(z)
    assert abs(est.shot / 0.004 - 1) < 0.08 and abs(est.read / 2e-5 - 1) < 0.5


def test_noise_model_prefers_the_noise_profile_then_iso_then_the_estimate(iso3200, tmp_path):
    shot, path = iso3200
    assert rd.noise_model(rd.read_raw(path)).source == "ISO 3200"
    profiled = write_dng(tmp_path / "p.dng", shot, noise_profile=(2e-3, 3e-6))
    model = rd.noise_model(rd.read_raw(profiled))
    assert model.source == "DNG NoiseProfile" and (model.shot, model.read) == (2e-3, 3e-6)
    unknown = rd.read_raw(write_dng(tmp_path / "n.dng", shot, iso=None))
    assert unknown.iso is None and rd.noise_model(unknown).source == "estimated from the mosaic"


def test_anscombe_stabilises_poisson_gaussian_noise_and_inverts_without_bias():
    rng = np.random.default_rng(0)
    model = rd.NoiseModel(shot=0.01, read=4e-4, source="test")
    for x in (0.02, 0.1, 0.4, 0.9):
        z = model.shot * rng.poisson(x / model.shot, 400_000) \
            + rng.normal(0, math.sqrt(model.read), 400_000)
        d = rd.anscombe(z, model)
        assert abs(d.std() - 1) < 0.06, (x, d.std())  # 1.05 at 2 photons + read noise
        assert abs(float(rd.inverse_anscombe(d.mean(), model)) - x) < 0.02 * x + 2e-3
    gaussian = rd.NoiseModel(shot=0.0, read=1e-4, source="test")
    z = np.linspace(-0.1, 1, 5)
    np.testing.assert_allclose(rd.inverse_anscombe(rd.anscombe(z, gaussian), gaussian), z)


def test_denoise_mosaic_hands_each_plane_and_the_stabilised_sigma():
    seen = []

    def identity(plane, sigma):
        seen.append((plane.shape, plane.dtype, float(plane.min()), float(plane.max()), sigma))
        return plane

    model = rd.noise_from_iso(1600)
    mosaic = np.random.default_rng(1).uniform(0, 0.8, (20, 30)).astype(np.float32)
    out, sigma = rd.denoise_mosaic(mosaic, model, identity)
    assert len(seen) == 4 and all(s[:2] == ((10, 15, 1), np.float32) for s in seen)
    assert min(s[2] for s in seen) >= 0 and max(s[3] for s in seen) <= 1
    span = rd.anscombe(mosaic, model).max() - rd.anscombe(mosaic, model).min()
    assert math.isclose(sigma, 255 / span, rel_tol=1e-6) and seen[0][4] == sigma
    # the identity "denoiser" gives back the mosaic (up to the unbiased inverse's offset)
    assert np.abs(out - mosaic).max() < 0.01 and out.dtype == np.float32


# --- the runner: restora restore / batch / API -----------------------------------------------


def test_restore_dng_to_16bit_tiff_denoises_in_the_linear_domain(iso3200, tmp_path, capsys):
    shot, path = iso3200
    out = tmp_path / "out.tif"
    assert main(["restore", str(path), "-o", str(out), "--explain"]) == 0
    text = capsys.readouterr().err
    assert "linear CFA planes" in text and "ISO 3200" in text
    photo = read_image(out)
    assert photo.bit_depth == 16 and photo.pixels.shape == (128, 192, 3)
    raw = rd.read_raw(path)
    clean = reference(raw, shot.clean)
    restored, noisy = psnr(photo.pixels, clean), psnr(reference(raw, raw.data), clean)
    assert restored > FLOOR_ISO3200, (restored, noisy)
    assert restored > noisy + MARGIN_ISO3200, (restored, noisy)
    exif = image_info(out)["exif"]  # kept in the TIFF: IFD0 and the Exif sub-IFD
    assert (exif["Make"], exif["Model"], exif["ISO"]) == ("Restora", "Synthetic RGGB", 3200)
    assert math.isclose(exif["ExposureTime"], 1 / 125)
    assert exif["DateTimeOriginal"] == "2025:03:04 05:06:07"


def test_restore_refuses_to_replace_an_output_and_names_a_bad_raw(iso3200, tmp_path, capsys):
    _, path = iso3200
    out = tmp_path / "exists.tif"
    out.write_bytes(b"keep")
    assert main(["restore", str(path), "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep" and "already exists" in capsys.readouterr().err
    data = path.read_bytes()
    for name, content in (("cut.dng", data[: len(data) // 2]), ("short.dng", data[:300]),
                          ("junk.dng", b"II*\x00" + bytes(range(256)) * 4)):
        bad = tmp_path / name
        bad.write_bytes(content)
        assert main(["restore", str(bad), "-o", str(tmp_path / f"{name}.tif")]) == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and str(bad) in lines[0], err
        assert "Traceback" not in err and not (tmp_path / f"{name}.tif").exists()


def test_api_jpeg_output_keeps_exif_and_denoises(small_scene, tmp_path):
    shot = shoot(small_scene, iso=800, seed=1)
    path = write_dng(tmp_path / "iso800.dng", shot, iso=800)
    out = restore_file(path, tmp_path / "out.jpg", task="denoise")
    photo = read_image(out)
    assert photo.bit_depth == 8 and photo.format == "JPEG"
    raw = rd.read_raw(path)
    clean = reference(raw, shot.clean)
    restored, noisy = psnr(photo.pixels, clean), psnr(reference(raw, raw.data), clean)
    assert restored > 31.0 and restored > noisy + 2.0, (restored, noisy)  # measured 31.6 / 29.2
    exif = image_info(out)["exif"]
    assert exif["ISO"] == 800 and exif["Make"] == "Restora"
    assert exif["DateTimeOriginal"] == "2025:03:04 05:06:07"


def test_batch_develops_raw_files_to_tiff(iso3200, tmp_path):
    _, path = iso3200
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "shot.dng").write_bytes(path.read_bytes())
    assert main(["batch", str(photos), str(tmp_path / "out"), "--task", "denoise",
                 "--method", "nlm"]) == 0
    out = read_image(tmp_path / "out" / "shot.tif")
    assert out.bit_depth == 16 and out.pixels.shape == (128, 192, 3)
    assert image_info(tmp_path / "out" / "shot.tif")["exif"]["ISO"] == 3200


def test_raw_develop_option_chooses_the_development(iso3200, tmp_path):
    _, path = iso3200
    nlm = Restorer(Choice(task="denoise", method="nlm"))
    _, report = nlm.run_file(path, tmp_path / "a.tif")
    assert report.runs.startswith("nlm at sigma") and "linear CFA planes" in report.runs
    _, report = nlm.run_file(path, tmp_path / "b.tif", Params(raw_develop="develop"))
    assert report.runs == "nlm" and report.sigma is not None  # denoised after development
    _, report = nlm.run_file(path, tmp_path / "c.tif", Params(raw_develop="libraw"))
    assert report.runs == "nlm"
    expected, _ = nlm.run_photo(read_image(path), Params())  # LibRaw's rendering, then nlm
    assert np.abs(read_image(tmp_path / "c.tif").pixels - expected.pixels).max() < 1e-4
    with pytest.raises(InvalidParameterError, match="raw_develop"):
        Params(raw_develop="magic")


def test_a_sensor_without_bayer_mosaic_takes_libraws_rendering(tmp_path):
    import tifffile

    rgb = (np.random.default_rng(0).uniform(0, 1, (32, 48, 3)) * 4000).astype(np.uint16)
    identity = []
    for v in (1, 0, 0, 0, 1, 0, 0, 0, 1):
        identity += [v * 10000, 10000]
    tags = [(50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),
            (50708, "s", 0, "linear", True), (50714, "H", 1, 0, True),
            (50717, "H", 1, 4095, True), (50721, "2i", 9, identity, True),
            (50728, "2I", 3, [10000] * 6, True), (50778, "H", 1, 21, True)]
    path = tmp_path / "linear.dng"
    tifffile.imwrite(path, rgb, photometric=34892, extratags=tags, subfiletype=0,
                     metadata=None, planarconfig="contig")  # LinearRaw: 3 samples per pixel
    with pytest.raises(rd.NotBayerError):
        rd.read_raw(path)
    restorer = Restorer(Choice(task="denoise", method="nlm"))
    restorer.run_file(path, tmp_path / "ours.tif", Params(sigma=5))
    restorer.run_file(path, tmp_path / "libraw.tif", Params(sigma=5, raw_develop="libraw"))
    assert np.array_equal(read_image(tmp_path / "ours.tif").pixels,
                          read_image(tmp_path / "libraw.tif").pixels)


def test_demosaicking_in_strips_equals_the_whole_frame():
    from restora.degrade.camera import demosaic

    mosaic = np.random.default_rng(2).random((rd.STRIP * 2 + 6, 40)).astype(np.float32)
    np.testing.assert_allclose(rd.demosaic_bayer(mosaic, "RGGB"), demosaic(mosaic), atol=1e-6)
