"""Every zoo architecture, end to end: a small random network with the official key layout,
saved the way its authors save it, server from 127.0.0.1, pulled by name through
``restora restore --model NAME``, and run (shape, range; tiled equals whole image).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from restora import zoo
from restora.api import restore
from restora.cli import main as cli
from tests.zoo.zoo_server import entry_for


def _restora_drunet():
    from restora.archs.drunet import DRUNet
    return DRUNet(in_channels=3, out_channels=3, channels=[8, 16, 32, 64], num_blocks=2)


def _restora_dncnn():
    from restora.archs.dncnn import DnCNN
    return DnCNN(in_channels=3, out_channels=3, num_features=16, depth=5)


def _restora_ffdnet():
    from restora.archs.ffdnet import FFDNet
    return FFDNet(in_channels=3, num_features=16, depth=4)


def _spandrel(arch: str, **config):
    import importlib

    module = importlib.import_module(f"spandrel.architectures.{arch}")
    return lambda: getattr(module, arch)(**config)


SWIN = dict(img_size=32, embed_dim=12, depths=[2], num_heads=[2], window_size=4, mlp_ratio=2.0,
            upscale=4, upsampler="pixelshuffle", resi_connection="1conv")
# name: (build, entry arch, task, scale, how the authors save it)
ARCHS = {
    "drunet": (_restora_drunet, "drunet", "denoise", 1, "plain"),
    "dncnn": (_restora_dncnn, "dncnn", "denoise", 1, "legacy"),
    "ffdnet": (_restora_ffdnet, "ffdnet", "denoise", 1, "legacy"),
    "nafnet": (_spandrel("NAFNet", img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1],
                         dec_blk_nums=[1, 1]), "nafnet", "denoise", 1, "params"),
    "scunet": (_spandrel("SCUNet", in_nc=3, config=[1] * 7, dim=64), "spandrel:SCUNet", "denoise", 1, "plain"),
    "fbcnn": (_spandrel("FBCNN", in_nc=3, out_nc=3, nc=[16, 32, 64, 512], nb=2), "spandrel:FBCNN", "deblock", 1, "plain"),
    "swinir": (_spandrel("SwinIR", **SWIN), "spandrel:SwinIR", "upscale", 4, "params"),
    "swin2sr": (_spandrel("Swin2SR", **SWIN), "spandrel:Swin2SR", "upscale", 4, "params"),
    "hat": (_spandrel("HAT", img_size=32, embed_dim=16, depths=[2], num_heads=[2], window_size=8,
                      compress_ratio=3, squeeze_factor=4, mlp_ratio=2.0, upscale=4,
                      upsampler="pixelshuffle"), "spandrel:HAT", "upscale", 4, "params_ema"),
    "dat": (_spandrel("DAT", img_size=32, embed_dim=32, split_size=[2, 4], depth=[2], num_heads=[2],
                      expansion_factor=2.0, upscale=4, upsampler="pixelshuffle"), "spandrel:DAT",
            "upscale", 4, "params"),
    "esrgan": (_spandrel("ESRGAN", in_nc=3, out_nc=3, num_filters=16, num_blocks=1, scale=4),
               "spandrel:ESRGAN", "upscale", 4, "params_ema"),
    "esrgan_x2_unshuffle": (_spandrel("ESRGAN", in_nc=3, out_nc=3, num_filters=16, num_blocks=1,
                                      scale=2, shuffle_factor=2), "spandrel:ESRGAN", "upscale", 2, "params_ema"),
    "compact": (_spandrel("Compact", num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=2, upscale=4),
                "spandrel:Compact", "upscale", 4, "params"),
}


# Tiles must be wider than twice the network's halo (the context it is given: 32 px for
# DnCNN/FFDNet, 128 px for the others), so those networks get a bigger photo.
SIZES = {"dncnn": (96, 104), "ffdnet": (96, 104)}
TILES = {"dncnn": 72, "ffdnet": 72}
BIG, BIG_TILE = (48, 280), 264  # a strip: two tiles across, one down (keeps the test quick)


def test_every_zoo_architecture_is_covered():
    assert {e.arch for e in zoo.load_registry().values()} <= {a[1] for a in ARCHS.values()}


def _saved(module: torch.nn.Module, how: str) -> bytes:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(0.5)  # random, but tame enough to keep outputs in a sane range
    state = module.state_dict()
    payload = {how: state} if how in ("params", "params_ema") else state
    buffer = io.BytesIO()
    torch.save(payload, buffer, _use_new_zipfile_serialization=how != "legacy")
    return buffer.getvalue()


def _photo(h: int = 40, w: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(0)
    img = np.stack([0.5 + 0.3 * np.sin(6 * x), 0.5 + 0.3 * np.cos(5 * y), 0.4 + 0.4 * x * y], -1)
    return np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("key", sorted(ARCHS))
def test_zoo_architecture_end_to_end(key, server, tmp_path):
    build, arch, task, scale, how = ARCHS[key]
    torch.manual_seed(0)
    data = _saved(build().eval(), how)
    name = f"test_{key}"
    zoo.use_registry({name: entry_for(name, [server.serve(f"/{name}.pth", data)], data,
                                      arch=arch, task=task, scale=scale)})
    photo = _photo(*SIZES.get(key, BIG))
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(np.rint(photo * 255).astype(np.uint8)).save(src)
    assert cli(["restore", str(src), "-o", str(dst), "--model", name]) == 0
    out = np.asarray(Image.open(dst))
    assert out.shape == (photo.shape[0] * scale, photo.shape[1] * scale, 3)
    assert server.hits[f"/{name}.pth"] == 1  # downloaded once, then from the cache
    kwargs = {"sigma": 10} if arch in ("drunet", "ffdnet") else {}
    whole = restore(photo, model=name, tile=None, **kwargs)
    tiled = restore(photo, model=name, tile=TILES.get(key, BIG_TILE), overlap=16, **kwargs)
    assert whole.shape == out.shape and np.isfinite(whole).all()
    assert 0.0 <= whole.min() and whole.max() <= 1.0
    np.testing.assert_allclose(tiled, whole, atol=2e-3)
    assert server.hits[f"/{name}.pth"] == 1


def test_automatic_mode_prefers_a_pulled_zoo_model_and_says_so(server, monkeypatch):
    from restora.options import Choice, Execution
    from restora.run import Restorer

    data = _saved(_restora_drunet().eval(), "plain")
    entry = entry_for("test_prior", [server.serve("/p.pth", data)], data, arch="drunet",
                      prefer_for="denoise:3")
    zoo.use_registry({"test_prior": entry})
    noisy = _photo(64, 64)

    def runs() -> str:
        return Restorer(Choice(task="denoise"), Execution()).run(noisy)[1].runs

    assert runs() == "denoise_color"  # not pulled: restora's own weights
    zoo.pull("test_prior")
    assert runs() == "test_prior"  # pulled: the user opted in
    monkeypatch.setenv("RESTORA_ZOO_DEFAULTS", "off")
    assert runs() == "denoise_color"
    assert Restorer(Choice(task="denoise"), Execution()).run(_photo(64, 64)[..., :1])[1].runs == "denoise_gray"
