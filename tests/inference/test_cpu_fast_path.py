"""The CPU fast path: bf16 detection, the per-model bf16 decision, threads from the cgroup."""

from __future__ import annotations

import dataclasses
import shutil
import sys

import numpy as np
import pytest
import torch

import restora
from restora import weights
from restora.models import inference, load_model
from restora.models.inference import (
    BF16_MAX_LOSS_DB,
    InferenceRunner,
    available_cpus,
    cpu_bf16_supported,
    recorded_bf16_loss,
    resolve_precision,
)
from restora.options import Execution
from restora.weights import DEFAULT_WEIGHTS, find_card

SHIPPED = [c for c in DEFAULT_WEIGHTS if c.path.is_file() and c.name != "diffusion_prior"]


@pytest.fixture
def cpu_flags(monkeypatch):
    """Set the CPU flags the runner sees: ``cpu_flags({"amx_bf16"})``."""

    def set_flags(flags: set[str]) -> None:
        monkeypatch.setattr(inference, "_cpu_flags", lambda: frozenset(flags))

    return set_flags


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "native"), [
    ("fpu sse2 avx avx2 fma", False),  # an AVX2 EPYC / Xeon: bf16 only emulated
    ("avx2 avx512f avx512bw", False),  # AVX-512 without its BF16 extension
    ("avx2 avx512f avx512_bf16", True),  # Cooper Lake, Zen 4
    ("avx2 avx512f amx_tile amx_bf16 amx_int8", True),  # Sapphire Rapids and later
])
def test_bf16_detection_reads_the_cpu_flags(tmp_path, monkeypatch, flags, native):
    fake = tmp_path / "cpuinfo"
    fake.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(inference, "CPUINFO", fake)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    inference._cpu_flags.cache_clear()
    try:
        assert cpu_bf16_supported() is native
    finally:
        inference._cpu_flags.cache_clear()


def test_auto_stays_fp32_on_a_cpu_without_native_bf16(cpu_flags):
    cpu_flags({"avx2", "fma"})
    assert resolve_precision("auto", device="cpu", supported=("fp32", "bf16"), bf16_loss_db=0.0) == "fp32"
    cpu_flags({"amx_bf16"})
    assert resolve_precision("auto", device="cpu", supported=("fp32", "bf16"), bf16_loss_db=0.0) == "bf16"
    # never measured (None), over the limit, or bf16 not supported by the model: fp32
    for loss, supported in ((None, ("fp32", "bf16")), (BF16_MAX_LOSS_DB + 0.001, ("fp32", "bf16")),
                            (0.0, ("fp32",))):
        assert resolve_precision("auto", device="cpu", supported=supported, bf16_loss_db=loss) == "fp32"
    # an explicit precision is never second-guessed
    cpu_flags(set())
    assert resolve_precision("bf16", device="cpu", supported=("fp32", "bf16")) == "bf16"


# --- the per-model decision ---------------------------------------------------------------


def test_every_shipped_default_model_has_a_recorded_bf16_decision():
    """benchmarks/cpu_precision.py measured each (the model cards say on what); a loss over
    BF16_MAX_LOSS_DB is a decision too: fp32 (denoise_real)."""
    for card in SHIPPED:  # upscale_real_x4 too: on Set5, the clean protocol of its card
        assert card.bf16_loss_db is not None, f"{card.name}: run benchmarks/cpu_precision.py"
        assert card.bf16_loss_db >= 0


@pytest.mark.parametrize("card", SHIPPED, ids=lambda c: c.name)
def test_auto_follows_the_recorded_decision_of_each_shipped_model(card, cpu_flags):
    model = load_model(card.path)
    cpu_flags({"amx_bf16"})
    expected = "bf16" if card.bf16_loss_db is not None and card.bf16_loss_db <= BF16_MAX_LOSS_DB else "fp32"
    assert InferenceRunner(model, device="cpu").precision == expected
    cpu_flags({"avx2"})
    assert InferenceRunner(model, device="cpu").precision == "fp32"


def test_auto_changes_with_the_record(monkeypatch, cpu_flags, tmp_path):
    card = find_card("denoise_color")
    model = load_model(card.path)
    cpu_flags({"amx_bf16"})
    for loss, expected in ((0.005, "bf16"), (BF16_MAX_LOSS_DB, "bf16"), (0.03, "fp32"), (None, "fp32")):
        cards = tuple(dataclasses.replace(c, bf16_loss_db=loss) if c.name == card.name else c
                      for c in DEFAULT_WEIGHTS)
        monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", cards)
        assert recorded_bf16_loss(model) == loss
        assert InferenceRunner(model, device="cpu").precision == expected
    # the same weights under another file name were never measured: fp32
    copy = tmp_path / "my_denoiser.safetensors"
    shutil.copy(card.path, copy)
    assert recorded_bf16_loss(load_model(copy)) is None
    assert InferenceRunner(load_model(copy), device="cpu").precision == "fp32"


def test_bf16_of_the_shipped_colour_denoiser_is_within_0_1_db_of_fp32():
    """bf16 (autocast, channels-last) vs fp32 on a 96x96 noisy crop, sigma 25: the PSNR of
    each against the clean crop differs by less than 0.1 dB (CBSD68: see docs/benchmarks.md,
    'CPU inference'), and the two outputs agree to more than 40 dB."""
    from skimage import data

    from restora.metrics import psnr

    clean = data.astronaut()[40:136, 200:296].astype(np.float32) / 255
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    fp32 = restora.restore(noisy, task="denoise", sigma=25, device="cpu", precision="fp32", tile=None)
    bf16 = restora.restore(noisy, task="denoise", sigma=25, device="cpu", precision="bf16", tile=None)
    quantise = lambda x: np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)
    gain32, gain16 = (psnr(quantise(clean), quantise(x)) for x in (fp32, bf16))
    assert gain32 > psnr(quantise(clean), quantise(noisy)) + 5  # the denoiser works
    assert abs(gain16 - gain32) < 0.1
    assert psnr(quantise(fp32), quantise(bf16)) > 40


# --- threads --------------------------------------------------------------------------------


@pytest.mark.parametrize(("files", "expected"), [
    ({}, 8),  # no cgroup limit: the affinity mask
    ({"cpu.max": "max 100000\n"}, 8),
    ({"cpu.max": "200000 100000\n"}, 2),  # v2: 2 CPUs
    ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
    ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # v1
    ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 8),
    ({"cpu.max": "1600000 100000\n"}, 8),  # a quota above the affinity mask
])
def test_threads_from_the_affinity_and_the_cgroup_quota(tmp_path, monkeypatch, files, expected):
    monkeypatch.setattr(inference.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert available_cpus(cgroup_root=tmp_path) == expected


def test_the_runner_uses_the_available_cpus_unless_told(monkeypatch, tmp_path):
    from restora.archs import DnCNN

    torch.manual_seed(0)
    path = tmp_path / "tiny.pth"
    torch.save(DnCNN(1, 1, num_features=4, depth=3).state_dict(), path)
    model = load_model(path)
    seen = []
    real = inference.cpu_threads

    def spy(threads):
        seen.append(threads)
        return real(threads)

    monkeypatch.setattr(inference, "cpu_threads", spy)
    monkeypatch.setattr(inference, "available_cpus", lambda: 3)
    image = np.full((16, 16), 0.5, np.float32)
    InferenceRunner(model, device="cpu")(image)
    InferenceRunner(model, device="cpu", threads=1)(image)
    assert seen == [3, 1]


def test_thread_limits_hold_and_come_back_and_need_no_opencv(monkeypatch):
    import cv2

    before_torch, before_cv2 = torch.get_num_threads(), cv2.getNumThreads()
    with inference.cpu_threads(1):
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == (before_torch, before_cv2)
    monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` raises ImportError
    with inference.cpu_threads(1):  # a lent GPU's bare image has no OpenCV: torch alone
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before_torch


# --- channels-last is the default through every entry point -------------------------------


def test_entry_points_run_channels_last_and_match_the_plain_network(tmp_path):
    from restora.archs import DnCNN

    torch.manual_seed(1)
    path = tmp_path / "tiny_dncnn.pth"
    torch.save(DnCNN(1, 1, num_features=8, depth=4).state_dict(), path)
    model = load_model(path)
    image = np.random.default_rng(2).random((40, 56), dtype=np.float32)
    runner = InferenceRunner.for_execution(model, Execution(device="cpu", backend="torch"))
    assert runner.channels_last and runner.precision == "fp32"
    # by default DnCNN runs with a graph engine on the CPU in fp32 (faster there)
    assert InferenceRunner.for_execution(model, Execution(device="cpu")).backend == "openvino"
    plain = InferenceRunner(model, channels_last=False)(image)  # byte-identical to the descriptor
    assert np.array_equal(plain, model(image))
    assert np.abs(restora.restore(image, model=model, tile=None) - plain).max() <= 1e-6


def test_the_automatic_tile_is_smaller_on_very_large_images():
    """Over 50 MP the tile is at most 768 (DRUNet: 470 MB of activations instead of 800),
    so a 100 MP photo streams in under 2 GB; below, up to 1024."""
    runner = InferenceRunner(load_model(find_card("denoise_color").path), device="cpu")
    assert runner.tile_for(1000, 1000, overlap=128) == (1024, 1024)  # one tile
    assert 768 < max(runner.tile_for(4000, 6000, overlap=128)) <= 1024
    assert max(runner.tile_for(10000, 10000, overlap=128)) <= inference.LARGE_IMAGE_TILE
