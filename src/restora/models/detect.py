"""Recognise our architectures from a state dict alone (tensor shapes are the config).

Each detector returns ``(arch, config, state_dict)`` with the keys renamed to our layout, or
``None``. :func:`build` makes the module for an ``(arch, config)`` pair.
"""

from __future__ import annotations

import re
from typing import Any

from torch import Tensor, nn

ARCHS = ("dncnn", "ffdnet", "drunet", "nafnet", "edsr", "edm")

Detected = tuple[str, dict[str, Any], dict[str, Tensor]]


def build(arch: str, config: dict[str, Any]) -> nn.Module:
    """Construct one of our architectures from its constructor arguments."""
    if arch == "dncnn":
        from restora.archs.dncnn import DnCNN

        return DnCNN(**config)
    if arch == "ffdnet":
        from restora.archs.ffdnet import FFDNet

        return FFDNet(**config)
    if arch == "drunet":
        from restora.archs.drunet import DRUNet

        cfg = dict(config)
        cfg["channels"] = tuple(cfg.get("channels", (64, 128, 256, 512)))
        return DRUNet(**cfg)
    if arch == "nafnet":
        from restora.archs.nafnet import NAFNet

        cfg = dict(config)
        for key in ("enc_blocks", "dec_blocks"):
            if key in cfg:
                cfg[key] = tuple(cfg[key])
        return NAFNet(**cfg)
    if arch == "edsr":
        from restora.archs.edsr import EDSR

        return EDSR(**config)
    if arch == "edm":
        from restora.archs.edm import EDMPrecond

        cfg = dict(config)
        cfg["channels"] = tuple(cfg.get("channels", (32, 64, 128, 256)))
        return EDMPrecond(**cfg)
    raise KeyError(arch)


def strip_prefixes(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop a ``module.`` prefix (DataParallel) shared by every key."""
    while state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def detect(state: dict[str, Tensor], bn_eps: dict[str, float] | None = None) -> Detected | None:
    """Try each detector in turn; ``bn_eps`` maps BatchNorm module paths to their eps."""
    state = strip_prefixes(state)
    for fn in (_detect_drunet, _detect_nafnet):
        found = fn(state)
        if found is not None:
            return found
    return _detect_plain_stack(state, bn_eps or {})


_SEQ = re.compile(r"^(model|dncnn)\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def _detect_plain_stack(state: dict[str, Tensor], bn_eps: dict[str, float]) -> Detected | None:
    """DnCNN (KAIR ``model.N`` or the authors' PyTorch ``dncnn.N``) or FFDNet (KAIR ``model.N``)."""
    groups: dict[int, dict[str, Tensor]] = {}
    prefixes = set()
    for key, value in state.items():
        m = _SEQ.match(key)
        if m is None:
            return None
        prefixes.add(m.group(1))
        groups.setdefault(int(m.group(2)), {})[m.group(3)] = value
    if len(prefixes) != 1 or not groups:
        return None
    prefix = prefixes.pop()
    layers: list[tuple[str, int, dict[str, Tensor]]] = []  # ("conv"|"bn", index, tensors)
    for idx in sorted(groups):
        g = groups[idx]
        if "running_mean" in g:
            if not layers or layers[-1][0] != "conv":
                return None
            layers.append(("bn", idx, g))
        elif "weight" in g and g["weight"].ndim == 4 and tuple(g["weight"].shape[2:]) == (3, 3):
            layers.append(("conv", idx, g))
        else:
            return None
    convs = [g for kind, _, g in layers if kind == "conv"]
    bns = [(i, g) for kind, i, g in layers if kind == "bn"]
    if len(convs) < 2:
        return None
    c_in = int(convs[0]["weight"].shape[1])
    c_out = int(convs[-1]["weight"].shape[0])
    width = int(convs[0]["weight"].shape[0])
    if any(int(c["weight"].shape[0]) != width for c in convs[:-1]):
        return None
    is_ffdnet = c_in == c_out + 1 and c_out % 4 == 0 and not bns
    if is_ffdnet:
        arch = "ffdnet"
        config: dict[str, Any] = {"in_channels": c_out // 4, "num_features": width, "depth": len(convs)}
    else:
        arch = "dncnn"
        config = {
            "in_channels": c_in,
            "out_channels": c_out,
            "num_features": width,
            "depth": len(convs),
            "batch_norm": bool(bns),
            "residual": c_in == c_out,
        }
        if bns and len(bns) != len(convs) - 2:
            return None  # BN on some middle layers only: not our DnCNN
    # Our layout: conv at 0, then per middle layer conv[, bn], relu; the last conv.
    out: dict[str, Tensor] = {}
    eps: dict[str, float] = {}
    pos = 0
    bn_iter = iter(bns)
    for k, conv in enumerate(convs):
        out[f"model.{pos}.weight"] = conv["weight"]
        bias = conv.get("bias")
        out[f"model.{pos}.bias"] = bias if bias is not None else conv["weight"].new_zeros(conv["weight"].shape[0])
        pos += 1
        if 0 < k < len(convs) - 1 and bns:
            idx, g = next(bn_iter)
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                if name in g:
                    out[f"model.{pos}.{name}"] = g[name]
            if f"{prefix}.{idx}" in bn_eps:
                eps[f"model.{pos}"] = float(bn_eps[f"{prefix}.{idx}"])
            pos += 1
        if k < len(convs) - 1:
            pos += 1  # ReLU
    if eps:
        config["bn_eps"] = next(iter(eps.values()))
        if len(set(eps.values())) > 1:
            return None  # per-layer eps: not expressible by our DnCNN
    return arch, config, out


def _count(state: dict[str, Tensor], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _detect_drunet(state: dict[str, Tensor]) -> Detected | None:
    needed = ("m_head.weight", "m_tail.weight", "m_down1.0.res.0.weight", "m_up1.0.weight", "m_body.0.res.0.weight")
    if not all(k in state for k in needed):
        return None
    nb = _count(state, r"^m_down1\.(\d+)\.res\.0\.weight$")
    channels = (
        int(state["m_head.weight"].shape[0]),
        int(state[f"m_down1.{nb}.weight"].shape[0]),
        int(state[f"m_down2.{nb}.weight"].shape[0]),
        int(state[f"m_down3.{nb}.weight"].shape[0]),
    )
    config = {
        "in_channels": int(state["m_head.weight"].shape[1]) - 1,
        "out_channels": int(state["m_tail.weight"].shape[0]),
        "channels": channels,
        "num_blocks": nb,
        "bias": "m_head.bias" in state,
    }
    return "drunet", config, dict(state)


def _detect_nafnet(state: dict[str, Tensor]) -> Detected | None:
    if not all(k in state for k in ("intro.weight", "ending.weight", "middle_blks.0.conv1.weight")):
        return None
    stages = _count(state, r"^downs\.(\d+)\.weight$")
    enc = tuple(_count(state, rf"^encoders\.{i}\.(\d+)\.conv1\.weight$") for i in range(stages))
    dec = tuple(_count(state, rf"^decoders\.{i}\.(\d+)\.conv1\.weight$") for i in range(stages))
    config = {
        "in_channels": int(state["intro.weight"].shape[1]),
        "width": int(state["intro.weight"].shape[0]),
        "middle_blocks": _count(state, r"^middle_blks\.(\d+)\.conv1\.weight$"),
        "enc_blocks": enc,
        "dec_blocks": dec,
    }
    return "nafnet", config, dict(state)
