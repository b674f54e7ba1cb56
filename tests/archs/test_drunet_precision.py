"""DRUNet under reduced precision: its ends stay float32 (torch autocast), and the exported
graph ends in the tail's convolution (OpenVINO bf16 then writes the output in float32)."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from restora.archs.drunet import DRUNet


def _net() -> DRUNet:
    torch.manual_seed(0)
    return DRUNet(in_channels=3, out_channels=3, channels=(8, 16, 32, 64), num_blocks=1).eval()


def test_head_and_tail_run_in_float32_under_autocast():
    net = _net()
    seen: dict[str, torch.dtype] = {}
    for name in ("m_head", "m_tail", "m_down1"):
        getattr(net, name).register_forward_hook(
            lambda m, args, out, name=name: seen.__setitem__(name, out.dtype))
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x, 15 / 255)
    assert seen == {"m_head": torch.float32, "m_tail": torch.float32, "m_down1": torch.bfloat16}
    assert y.dtype == torch.float32
    with torch.inference_mode():
        exact = net(x, 15 / 255)
    # the body's bf16 error reaches the output through the tail; the input's and the
    # output's own rounding (up to 2**-9 of the value) do not
    assert float((y - exact).abs().max()) < 2e-3
    assert torch.equal(net(x, 15 / 255), exact)  # float32: the same function as before


def test_padded_input_is_cropped_and_unpadded_input_is_not_sliced():
    net = _net()
    with torch.inference_mode():
        x = torch.rand(1, 3, 30, 37)
        assert net(x, 0.1).shape == (1, 3, 30, 37)
        padded = torch.nn.functional.pad(x, (0, 3, 0, 2), mode="replicate")
        np.testing.assert_allclose(net(padded, 0.1)[..., :30, :37], net(x, 0.1), atol=1e-6)


def test_exported_graph_ends_in_the_tail_convolution():
    onnx = pytest.importorskip("onnx")
    net = _net()
    buffer = io.BytesIO()
    torch.onnx.export(net, (torch.rand(1, 3, 64, 64), torch.full((1,), 0.1)), buffer,
                      input_names=["image", "sigma"], output_names=["output"],
                      dynamic_axes={"image": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    graph = onnx.load_from_string(buffer.getvalue()).graph
    last = next(n for n in graph.node if "output" in n.output)
    assert last.op_type == "Conv"


def test_exported_head_is_centred_and_computes_the_same():
    """In an export the head sees the image centred on 0.5 (twice bf16's precision), plus
    channels of 0.5 under the same weights: the same function, borders included."""
    net = _net()
    x0 = torch.cat((torch.rand(2, 3, 20, 24), torch.full((2, 1, 20, 24), 0.1)), dim=1)
    with torch.inference_mode():
        np.testing.assert_allclose(net._centred_head(x0, 3), net.m_head(x0), atol=1e-6)
