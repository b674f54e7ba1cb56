"""Convert MatConvNet ``simplenn`` models (the official DnCNN / FFDNet ``.mat`` releases).

MATLAB v7.3 files are HDF5 and are read with h5py; older v5 files with
``scipy.io.loadmat``. MATLAB stores arrays column-major, so h5py returns every array with
its axes reversed: a filter that MATLAB indexes ``[kh, kw, in, out]`` (rows first, like the
image) arrives as ``(out, in, kw, kh)``; we reverse the axes back to MATLAB order and then
permute to torch's ``(out, in, kh, kw)``. MatConvNet's ``vl_nnconv`` is a correlation like
``torch.nn.functional.conv2d`` (no kernel flip). Checked against the published PSNR of the
official weights (tests/models, benchmarks/reproduce_official.py).

FFDNet's ``SubP`` layer (``vl_nnSubP.m``) orders the four sub-images of a 2x2 block
row-offset-fastest (``i = a + 2 b`` for row offset ``a``, column offset ``b``), torch's
``pixel_unshuffle`` column-offset-fastest (``2 a + b``); the first conv's input channels and
the last conv's output channels are permuted to torch's order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from restora.errors import ModelLoadError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_mat_file(head: bytes) -> bool:
    """Whether the first bytes are a MATLAB MAT-file header (v5 or v7.3) or bare HDF5."""
    return head.startswith(b"MATLAB") or head.startswith(HDF5_SIGNATURE)


def read_simplenn_layers(path: str | Path) -> list[dict[str, Any]]:
    """The ``net.layers`` list of a MatConvNet file, arrays in MATLAB axis order.

    Each layer is a dict with ``type`` (str) and, when present, ``weights`` (list of
    float32 arrays, trailing singleton axes restored to 4-D for filters), ``scale``,
    ``pad``, ``stride`` (floats or arrays).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if head.startswith(HDF5_SIGNATURE) or head[512:520] == HDF5_SIGNATURE:
        return _read_v73(path)
    if head.startswith(b"MATLAB"):
        return _read_v5(path)
    raise ModelLoadError(f"{path}: not a MATLAB MAT-file (no 'MATLAB' header or HDF5 signature)")


def _read_v73(path: Path) -> list[dict[str, Any]]:
    import h5py

    def text(ds: Any) -> str:
        return "".join(chr(int(c)) for c in np.asarray(ds).ravel())

    try:
        with h5py.File(path, "r") as f:
            check_hdf5_self_contained(f, path)
            if "net" not in f or "layers" not in f["net"]:
                raise ModelLoadError(
                    f"{path}: MAT-file has no 'net.layers' (found {sorted(f.keys())}); "
                    f"expected a MatConvNet simplenn model saved as 'net'"
                )
            layers = []
            for ref in np.asarray(f["net/layers"]).ravel():
                g = f[ref]
                layer: dict[str, Any] = {"type": text(g["type"]) if "type" in g else ""}
                if "weights" in g and g["weights"].dtype == object:
                    layer["weights"] = [np.asarray(f[r], dtype=np.float32).T for r in np.asarray(g["weights"]).ravel()]
                for key in ("scale", "pad", "stride", "epsilon"):
                    if key in g and g[key].dtype != np.uint64:
                        layer[key] = np.asarray(g[key], dtype=np.float64).T
                layers.append(layer)
            return layers
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not read the MATLAB v7.3 (HDF5) file: {_one_line(exc)}") from None


#: Largest dataset a weight file may hold (uncompressed bytes): a few KB of gzip cannot
#: inflate to gigabytes.
MAX_DATASET_BYTES = 1 << 30


def check_hdf5_self_contained(f: Any, path: Path) -> None:
    """Refuse an HDF5 file that reaches outside itself or inflates without bound: external
    links, soft links, datasets with external raw storage, virtual datasets (each could copy
    another local file's bytes into the weights), datasets above :data:`MAX_DATASET_BYTES`."""
    import h5py

    problems: list[str] = []

    def visit_link(name: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"'{name}' is an external link to {link.filename}:{link.path}")
        elif isinstance(link, h5py.SoftLink):
            problems.append(f"'{name}' is a soft link to {link.path}")

    def visit_item(name: str, item: Any) -> None:
        if not isinstance(item, h5py.Dataset):
            return
        if item.external:
            problems.append(f"dataset '{name}' keeps its data in external file(s) "
                            f"{', '.join(str(e[0]) for e in item.external)}")
        elif item.is_virtual:
            problems.append(f"dataset '{name}' is a virtual dataset (data from other files)")
        elif item.size * item.dtype.itemsize > MAX_DATASET_BYTES:
            problems.append(f"dataset '{name}' would take {item.size * item.dtype.itemsize} bytes")

    f.visititems_links(visit_link)
    if not problems:
        f.visititems(visit_item)
    if problems:
        raise ModelLoadError(f"{path}: refused, the HDF5 file is not self-contained or too large: "
                             + "; ".join(problems[:3]))


def _read_v5(path: Path) -> list[dict[str, Any]]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, struct_as_record=False, squeeze_me=False)
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not read the MATLAB v5 file: {_one_line(exc)}") from None
    if "net" not in mat:
        raise ModelLoadError(f"{path}: MAT-file has no variable 'net' (found {sorted(k for k in mat if not k.startswith('__'))})")
    layers: list[dict[str, Any]] = []
    try:
        net = mat["net"].ravel()[0]
        if not hasattr(net, "layers"):
            raise ModelLoadError(f"{path}: 'net' has no field 'layers'; expected a MatConvNet "
                                 "simplenn model saved as 'net'")
        for cell in np.asarray(net.layers).ravel():
            obj = cell.ravel()[0] if isinstance(cell, np.ndarray) else cell
            layer: dict[str, Any] = {"type": str(np.asarray(obj.type).ravel()[0]) if hasattr(obj, "type") else ""}
            if hasattr(obj, "weights"):
                layer["weights"] = [np.asarray(w, dtype=np.float32) for w in np.asarray(obj.weights).ravel()]
            for key in ("scale", "pad", "stride", "epsilon"):
                if hasattr(obj, key):
                    layer[key] = np.asarray(getattr(obj, key), dtype=np.float64)
            layers.append(layer)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001  (a struct of the wrong shape, text for numbers)
        raise ModelLoadError(f"{path}: layer {len(layers) + 1} of 'net.layers' cannot be read "
                             f"({type(exc).__name__}: {_one_line(exc)})") from None
    return layers


def _filter(w: np.ndarray) -> np.ndarray:
    """MATLAB ``[kh, kw, in, out]`` (trailing singletons maybe dropped) -> torch ``(out, in, kh, kw)``."""
    w = w.reshape(w.shape + (1,) * (4 - w.ndim))
    return np.ascontiguousarray(w.transpose(3, 2, 0, 1))


def _subp_permutation(channels: int) -> np.ndarray:
    """``perm[t] = m``: torch sub-channel ``t`` is MATLAB sub-channel ``m`` (per image channel)."""
    perm = np.empty(channels * 4, dtype=np.int64)
    for c in range(channels):
        for a in range(2):  # row offset
            for b in range(2):  # column offset
                perm[c * 4 + 2 * a + b] = c * 4 + a + 2 * b
    return perm


def _weights(layer: dict[str, Any], i: int, path: Path, need: int, what: str) -> list[np.ndarray]:
    weights = layer.get("weights")
    if weights is None or len(weights) < need:
        have = 0 if weights is None else len(weights)
        raise ModelLoadError(
            f"{path}: layer {i + 1} is a {layer['type']} with {have} weight array(s); it needs "
            f"{need} ({what})" + ("; the layer has no weights" if weights is None else ""))
    return weights


def _conv_layer(layer: dict[str, Any], i: int, path: Path,
                convs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One MatConvNet conv as torch ``(weight, bias)``, checked."""
    w, b = _weights(layer, i, path, 2, "filter and bias")[:2]
    if w.ndim > 4 or w.size == 0:
        raise ModelLoadError(
            f"{path}: layer {i + 1} is a conv whose filter has shape {list(w.shape)}; a "
            f"MatConvNet filter is [height, width, in, out] (at most 4-D, not empty)")
    w_t = _filter(w)
    if b.size not in (0, w_t.shape[0]):
        raise ModelLoadError(f"{path}: layer {i + 1} is a conv with {w_t.shape[0]} filters "
                             f"but {b.size} biases")
    b_t = np.asarray(b, dtype=np.float32).ravel() if b.size else np.zeros(w_t.shape[0], np.float32)
    pad = np.asarray(layer.get("pad", 1)).ravel()
    stride = np.asarray(layer.get("stride", 1)).ravel()
    if w_t.shape[2:] != (3, 3) or np.any(pad != 1) or np.any(stride != 1):
        raise ModelLoadError(
            f"{path}: layer {i + 1} is a {w_t.shape[2]}x{w_t.shape[3]} conv with pad "
            f"{pad.tolist()} stride {stride.tolist()}; restora converts only the 3x3, "
            f"pad 1, stride 1 convolutions of DnCNN/FFDNet"
        )
    if convs and w_t.shape[1] != convs[-1][0].shape[0]:
        raise ModelLoadError(
            f"{path}: layer {i + 1} is a conv taking {w_t.shape[1]} channels after a conv "
            f"giving {convs[-1][0].shape[0]}")
    if not (np.isfinite(w_t).all() and np.isfinite(b_t).all()):
        raise ModelLoadError(f"{path}: layer {i + 1} is a conv with NaN or infinite weights")
    return w_t, b_t


def _fold_bnorm(layer: dict[str, Any], i: int, path: Path,
                convs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The last conv with a MatConvNet batch-norm ``[gain, bias, moments]`` folded in."""
    if not convs:
        raise ModelLoadError(f"{path}: layer {i + 1} is a bnorm with no conv before it")
    weights = _weights(layer, i, path, 3, "gain, bias and moments [mean, std]")
    gain, beta, moments = (np.asarray(x, dtype=np.float64) for x in weights[:3])
    w_t, b_t = convs[-1]
    n = w_t.shape[0]
    if gain.size != n or beta.size != n or moments.size != 2 * n:
        raise ModelLoadError(
            f"{path}: layer {i + 1} is a bnorm with {gain.size} gains, {beta.size} biases and "
            f"{moments.size} moments after a conv with {n} filters; expected {n}, {n} and {2 * n}")
    moments = moments.reshape(-1, 2)
    if not (np.isfinite(moments).all() and (moments[:, 1] > 0).all()):
        raise ModelLoadError(f"{path}: layer {i + 1} is a bnorm whose standard deviations are "
                             "not all positive and finite")
    scale = gain.ravel() / moments[:, 1]
    return (
        (w_t * scale[:, None, None, None]).astype(np.float32),
        ((b_t - moments[:, 0]) * scale + beta.ravel()).astype(np.float32),
    )


def convert_simplenn(path: str | Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Convert a DnCNN or FFDNet MatConvNet file to ``(arch, config, state_dict)``.

    DnCNN: ``conv relu [conv (bnorm) relu]* conv`` (BatchNorm merged into the convs, using
    MatConvNet's stored moments ``[mean, sqrt(var + eps)]``), residual output. FFDNet:
    ``SubP concat [conv relu]* conv SubP``. Raises :class:`ModelLoadError` for other layouts.
    """
    import torch

    layers = read_simplenn_layers(path)
    types = [layer["type"] for layer in layers]
    convs: list[tuple[np.ndarray, np.ndarray]] = []
    for i, layer in enumerate(layers):
        kind = layer["type"]
        if kind in ("relu", "SubP", "concat"):
            continue
        if kind not in ("conv", "bnorm"):
            raise ModelLoadError(
                f"{path}: unsupported MatConvNet layer type '{kind}' at position {i + 1} "
                f"(layers: {', '.join(dict.fromkeys(types))}); restora converts DnCNN and FFDNet"
            )
        try:
            if kind == "conv":
                convs.append(_conv_layer(layer, i, path, convs))
            else:
                convs[-1] = _fold_bnorm(layer, i, path, convs)
        except ModelLoadError:
            raise
        except Exception as exc:  # noqa: BLE001  (what the checks did not foresee: one error)
            raise ModelLoadError(f"{path}: layer {i + 1} ({kind}) is malformed "
                                 f"({type(exc).__name__}: {_one_line(exc)})") from None
    if len(convs) < 2:
        raise ModelLoadError(f"{path}: found {len(convs)} conv layers; not a DnCNN/FFDNet model")

    if types[:2] == ["SubP", "concat"] and types[-1] == "SubP":
        out4 = convs[-1][0].shape[0]
        channels = out4 // 4
        if out4 % 4 or convs[0][0].shape[1] != out4 + 1:
            raise ModelLoadError(
                f"{path}: FFDNet layout with first conv input {convs[0][0].shape[1]} and last "
                f"output {out4}; expected 4C+1 and 4C"
            )
        perm = _subp_permutation(channels)
        w0, b0 = convs[0]
        w0 = np.concatenate([w0[:, perm], w0[:, out4:]], axis=1)
        convs[0] = (w0, b0)
        wl, bl = convs[-1]
        convs[-1] = (wl[perm], bl[perm])
        arch = "ffdnet"
        config: dict[str, Any] = {
            "in_channels": channels,
            "num_features": int(convs[0][0].shape[0]),
            "depth": len(convs),
        }
    elif types[0] == "conv" and types[-1] == "conv":
        arch = "dncnn"
        config = {
            "in_channels": int(convs[0][0].shape[1]),
            "out_channels": int(convs[-1][0].shape[0]),
            "num_features": int(convs[0][0].shape[0]),
            "depth": len(convs),
            "batch_norm": False,
            "residual": True,
        }
    else:
        raise ModelLoadError(
            f"{path}: MatConvNet layer sequence {types[:3]}...{types[-2:]} is neither DnCNN "
            f"(conv ... conv) nor FFDNet (SubP concat ... SubP)"
        )
    # Both architectures number their convs 0, 2, 4, ... inside `model` (ReLUs in between).
    state = {}
    for k, (w, b) in enumerate(convs):
        state[f"model.{2 * k}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
        state[f"model.{2 * k}.bias"] = torch.from_numpy(np.ascontiguousarray(b))
    return arch, config, state
