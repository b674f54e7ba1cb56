"""Our networks in formats other tools load: safetensors for spandrel (chaiNNer, ComfyUI)
and ONNX (onnxruntime, TensorRT, OpenVINO).

Each export is checked before it is kept: the written file is loaded back (through
spandrel, or onnxruntime when it is installed) and run on a test image beside the
original network; a difference above :data:`TOLERANCE` refuses the export.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from restora.archs.registry import get_spec
from restora.errors import InvalidParameterError, ModelLoadError, OutputExistsError
from restora.io.atomic import atomic_write
from restora.models.descriptor import ModelDescriptor
from restora.models.loading import save_model
from restora.models.onnxrt import onnx_graph

if TYPE_CHECKING:
    import torch

FORMATS = ("safetensors", "onnx")
#: Largest difference (in [0, 1] units) between the export and the network it came from.
TOLERANCE = 1e-3
#: The noise level the spandrel check runs at (spandrel's DRUNet always appends 15/255).
SPANDREL_SIGMA = 15.0


def export_model(model: ModelDescriptor, target: str | Path, fmt: str, *,
                 overwrite: bool = False) -> float:
    """Write ``model`` to ``target`` as ``fmt`` (``safetensors`` for spandrel, ``onnx``);
    returns the largest difference measured against the original on a test image."""
    target = Path(target)
    if fmt not in FORMATS:
        raise InvalidParameterError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if target.exists() and not overwrite:
        raise OutputExistsError(target, "already exists; pass --overwrite to replace it")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / target.name
        if fmt == "safetensors":
            write_spandrel(model, staged)
            diff = check_spandrel(model, staged)
        else:
            write_onnx(model, staged)
            diff = check_onnx(model, staged)
        if diff > TOLERANCE:
            raise ModelLoadError(f"{target}: the exported model differs from {model.source.name} by "
                                 f"{diff:.2e} (more than {TOLERANCE:g}); nothing was written")
        data = staged.read_bytes()
    atomic_write(target, lambda fh: fh.write(data))
    return diff


def _test_image(model: ModelDescriptor, size: tuple[int, int] = (40, 56)) -> torch.Tensor:
    import torch

    g = torch.Generator().manual_seed(0)
    m = max(model.size_multiple, 1)
    h, w = (-(-size[0] // m) * m, -(-size[1] // m) * m)
    return torch.rand(1, model.in_channels, h, w, generator=g)


def spandrel_state(model: ModelDescriptor) -> dict[str, torch.Tensor]:
    """The network's weights in the key layout spandrel detects, computing the same function.

    DRUNet: spandrel's detector wants at least two residual blocks per level and a
    noise-map input channel; a smaller network gets identity blocks (second conv zero, so
    ``x + res(x) = x``) and a zero-weight noise-map input. Other architectures: as they are.
    """
    import torch

    state = {k: v.detach().float().cpu().contiguous() for k, v in model.model.state_dict().items()}
    if model.arch != "drunet":
        return state
    nb = int(model.config["num_blocks"])
    if not model.needs_sigma:  # the map channel spandrel appends, seen by zero weights
        head = state["m_head.weight"]
        state["m_head.weight"] = torch.cat([head, torch.zeros_like(head[:, :1])], dim=1)
    if nb >= 2:
        return state
    blocks = 2
    out: dict[str, torch.Tensor] = {}

    def identity(prefix: str, like: str) -> None:
        out[f"{prefix}.res.0.weight"] = state[f"{like}.res.0.weight"].clone()
        out[f"{prefix}.res.2.weight"] = torch.zeros_like(state[f"{like}.res.2.weight"])

    for key, value in state.items():
        parts = key.split(".")
        group = parts[0]
        if group.startswith("m_down") and parts[1] == str(nb):  # the stride conv after the blocks
            out[".".join([group, str(blocks), *parts[2:]])] = value
        elif group.startswith("m_up") and parts[1] != "0":  # blocks after the transposed conv
            out[key] = value
        else:
            out[key] = value
    for level in (1, 2, 3):
        for index in range(nb, blocks):
            identity(f"m_down{level}.{index}", f"m_down{level}.0")
            identity(f"m_up{level}.{index + 1}", f"m_up{level}.1")
    for index in range(nb, blocks):
        identity(f"m_body.{index}", "m_body.0")
    return out


def write_spandrel(model: ModelDescriptor, path: Path) -> Path:
    """safetensors in spandrel's layout (:func:`spandrel_state`), restora metadata kept."""
    from safetensors.torch import save_file

    if model.call_fn is not None or model.arch.startswith("spandrel:"):
        save_model(model, path)
        return path
    if int(model.config.get("unshuffle", 1)) > 1:
        raise ModelLoadError(
            f"{model.source.name}: a DRUNet with unshuffle={model.config['unshuffle']} has no "
            "spandrel equivalent; export it with --format onnx")
    meta = {"format": "pt", "restora_arch": model.arch, "restora_task": model.task,
            "restora_source_sha256": model.sha256, "restora_licence": model.licence or ""}
    save_file(spandrel_state(model), str(path), metadata=meta)
    return path


def check_spandrel(model: ModelDescriptor, path: Path) -> float:
    """Load ``path`` with spandrel and compare with ``model`` (at sigma 15 for noise-map
    networks, which spandrel runs at that level). Refuses architectures spandrel lacks."""
    import spandrel
    import torch

    if not model.arch.startswith("spandrel:") and get_spec(model.arch).spandrel is None:
        raise ModelLoadError(
            f"{model.source.name}: architecture {model.arch!r} has no spandrel equivalent; "
            "export it with --format onnx"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = spandrel.ModelLoader().load_from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - spandrel raises many kinds
        raise ModelLoadError(f"{model.source.name}: spandrel cannot load the export "
                             f"({type(exc).__name__}: {exc})") from None
    x = _test_image(model)
    with torch.inference_mode():
        ours = model.run_tensor(x, sigma=SPANDREL_SIGMA if model.needs_sigma else None)
        ours = ours.clamp(0, 1)  # spandrel's descriptor clamps its output
        loaded.model.eval()
        theirs = loaded(x)
    if ours.shape != theirs.shape:
        raise ModelLoadError(f"{model.source.name}: spandrel's {loaded.architecture.id} gives "
                             f"shape {tuple(theirs.shape)}, restora {tuple(ours.shape)}")
    return float((ours - theirs).abs().max())


def write_onnx(model: ModelDescriptor, path: Path) -> Path:
    """:func:`onnx_graph` written to ``path``, with metadata that says the contract."""
    Path(path).write_bytes(onnx_graph(model))
    _add_onnx_metadata(model, path)
    return path


def _add_onnx_metadata(model: ModelDescriptor, path: Path) -> None:
    try:
        import onnx
    except ImportError:
        return
    graph = onnx.load(str(path))
    meta = {"restora_arch": model.arch, "restora_task": model.task, "scale": str(model.scale),
            "size_multiple": str(model.size_multiple), "range": "[0, 1] float32, NCHW, RGB",
            "sigma": "8-bit units (25 = 25/255)" if model.needs_sigma else "none",
            "licence": model.licence or ""}
    for key, value in meta.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))


def check_onnx(model: ModelDescriptor, path: Path) -> float:
    """Run the ONNX file with onnxruntime on an image of another size than the export's
    and compare with ``model``; 0 (unchecked) when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        warnings.warn("onnxruntime is not installed: the ONNX export was not checked "
                      "(pip install onnxruntime)", stacklevel=2)
        return 0.0
    import numpy as np
    import torch

    x = _test_image(model, (40, 56))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"image": x.numpy()}
    if model.needs_sigma:
        feed["sigma"] = np.array([25.0], dtype=np.float32)
    (out,) = session.run(["output"], feed)
    with torch.inference_mode():
        ours = model.run_tensor(x, sigma=25.0 if model.needs_sigma else None).numpy()
    if out.shape != ours.shape:
        raise ModelLoadError(f"{path.name}: ONNX output shape {out.shape}, restora {ours.shape}")
    return float(np.abs(out - ours).max())
