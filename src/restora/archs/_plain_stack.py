"""The plain 3x3 conv stacks of DnCNN and FFDNet, recognised from a state dict (shared by
:mod:`restora.archs.dncnn` and :mod:`restora.archs.ffdnet`; not an architecture itself)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from restora.archs.registry import StateDict

_SEQ = re.compile(r"^(model|dncnn)\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def parse_plain_stack(state: StateDict, bn_eps: Mapping[str, float]) -> tuple[str, dict[str, Any], StateDict] | None:
    """DnCNN (KAIR ``model.N`` or the authors' PyTorch ``dncnn.N``) or FFDNet (KAIR
    ``model.N``): ``(arch, config, state in our layout)`` or ``None``."""
    groups: dict[int, StateDict] = {}
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
    layers: list[tuple[str, int, StateDict]] = []  # ("conv"|"bn", index, tensors)
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
    out: StateDict = {}
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
