"""CPU engines that run the exported ONNX graph for :class:`~restora.models.inference.InferenceRunner`:
ONNX Runtime (fp32) and OpenVINO (fp32 and bf16), both core dependencies.

In fp32 on the CPU, ONNX Runtime runs DRUNet and DnCNN in 0.71-0.84x torch's time, and the
upscalers (EDSR, the compact network) in 1.3-1.7x (``benchmarks/cpu_engines.py``,
docs/benchmarks.md), with the same result to about 1e-6. OpenVINO, where installed, is faster
again for the architectures that list it, in fp32 and (on CPUs with native bf16) in bf16.
Each architecture lists the engines measured faster than torch
(:attr:`~restora.archs.registry.ArchSpec.cpu_engines`). The network is exported once per
process (:func:`onnx_graph`, about a second for DRUNet; ``restora export --format onnx``
writes the same graph) and kept in restora's cache folder for the next process
(:func:`graph_cache_file`), with the model's contract beside it (:func:`cached_contract`):
from then on a process runs the network on numpy arrays without importing torch (the loader
defers building the torch network: :class:`~restora.models.descriptor.DeferredModelDescriptor`).
Each runner holds its own session with its thread count.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restora.archs.registry import arch_names, get_spec
from restora.errors import ModelLoadError, RestoraError
from restora.io.atomic import atomic_write
from restora.zoo import cache_root

if TYPE_CHECKING:
    import torch

    from restora.models.descriptor import ModelDescriptor

__all__ = ["CONTRACT_FIELDS", "ONNX_OPSET", "OnnxNetwork", "OpenVinoNetwork", "cached_contract",
           "engine_available", "graph_cache_file", "onnx_graph"]

#: The ONNX opset of exported graphs (``restora export --format onnx`` and the engine).
ONNX_OPSET = 17

#: Exported graphs kept per process (a shipped network is 1-70 MB of fp32 weights).
_GRAPHS_KEPT = 4
_GRAPHS: OrderedDict[str, bytes] = OrderedDict()
_GRAPHS_LOCK = threading.Lock()


def _onnx_module(model: ModelDescriptor) -> Any:
    """``forward(image[, sigma])``: image (N, C, H, W) in [0, 1], H and W multiples of the
    network's size multiple; sigma (N,) noise std in 8-bit units for noise-map networks."""
    import torch

    net = model.model.eval()

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, image: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
            if sigma is None:
                return self.net(image)
            return self.net(image, sigma / 255.0)

    return Wrapped()


def onnx_graph(model: ModelDescriptor) -> bytes:
    """The network as a serialised ONNX graph (fp32 weights) with dynamic batch, height and
    width; inputs ``image`` (N, C, H, W) in [0, 1] (and ``sigma`` (N,) in 8-bit units for
    noise-map networks), output ``output``. Raises :class:`ModelLoadError` for networks
    spandrel wraps (only restora's own architectures are exported)."""
    import io

    import torch

    if model.call_fn is not None:
        raise ModelLoadError(f"{model.source.name}: ONNX export is for restora's own architectures")
    if model.arch in arch_names() and not get_spec(model.arch).onnx:
        raise ModelLoadError(f"{model.source.name}: a {model.arch} network does not export to ONNX "
                             "(its forward pass depends on the input size, which an ONNX graph "
                             "would fix); run it with restora")
    module = _onnx_module(model)
    m = max(model.size_multiple, 1)
    side = -(-64 // m) * m
    x = torch.rand(1, model.in_channels, side, side, generator=torch.Generator().manual_seed(0))
    names = ["image"] + (["sigma"] if model.needs_sigma else [])
    args = (x, torch.full((1,), 15.0)) if model.needs_sigma else (x,)
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "out_height", 3: "out_width"}}
    if model.needs_sigma:
        axes["sigma"] = {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, input_names=names, output_names=["output"],
                          dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)
    return buffer.getvalue()


#: The Python package of each graph engine (``pip install`` names the same).
ENGINE_PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


@functools.cache
def engine_available(engine: str) -> bool:
    """Whether a graph engine (``onnxruntime``, ``openvino``: core dependencies, absent
    only from trimmed installs or platforms without wheels) imports."""
    import importlib

    try:
        importlib.import_module(ENGINE_PACKAGES[engine])
    except ImportError:
        return False
    return True


@functools.cache
def _code_digest() -> str:
    """SHA-256 of the code an exported graph depends on: restora's architectures and this
    module (an edited architecture must not meet a graph exported from the old one)."""
    digest = hashlib.sha256()
    here = Path(__file__)
    for path in sorted((here.parents[1] / "archs").rglob("*.py")) + [here]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _torch_version() -> str:
    """The installed torch distribution's version, read without importing torch."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def _cache_stem(sha256: str, arch: str) -> Path:
    """``cache_root()/onnx/ARCH-KEY``: the key a digest of the weights file, the
    architecture code, torch's version and the opset."""
    key = hashlib.sha256(
        f"{sha256}|{arch}|{_torch_version()}|{ONNX_OPSET}|{_code_digest()}".encode()
    ).hexdigest()[:40]
    return cache_root() / "onnx" / f"{arch}-{key}"


def graph_cache_file(model: ModelDescriptor) -> Path:
    """Where the model's exported graph is kept between processes:
    ``cache_root()/onnx/ARCH-KEY.onnx``, the key a digest of the weights file, the
    architecture code, torch's version and the opset. Beside it, ``ARCH-KEY.json`` keeps
    the model's contract (:func:`cached_contract`)."""
    return _cache_stem(model.sha256, model.arch).with_suffix(".onnx")


#: The descriptor fields kept beside a cached graph, with their types.
CONTRACT_FIELDS = {"task": str, "scale": int, "in_channels": int, "out_channels": int,
                   "needs_sigma": bool, "supported_dtypes": list, "size_multiple": int,
                   "tile_hint": (int, type(None)), "halo": int, "config": dict,
                   "cpu_engines": list}


#: Largest integer a kept contract may hold (a tile hint, halo or channel count beyond it
#: was not written by restora).
_CONTRACT_INT_MAX = 4096


def cached_contract(sha256: str, arch: str) -> dict[str, Any] | None:
    """The contract (:data:`CONTRACT_FIELDS`) of the weights with digest ``sha256``, kept
    when their graph was exported, or ``None`` when the graph or the contract is not in the
    cache (or unreadable). With it, a graph engine runs the network without torch."""
    stem = _cache_stem(sha256, arch)
    try:
        if not stem.with_suffix(".onnx").is_file():
            return None
        fields = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(fields, dict) or set(fields) != set(CONTRACT_FIELDS) or any(
            not isinstance(fields[k], kind) or isinstance(fields[k], bool) and kind is int
            for k, kind in CONTRACT_FIELDS.items()):
        return None
    sizes = [fields[k] for k in ("scale", "in_channels", "out_channels", "size_multiple",
                                 "tile_hint", "halo") if fields[k] is not None]
    if not all(isinstance(v, int) and 0 <= v <= _CONTRACT_INT_MAX for v in sizes):
        return None  # not what an export writes: the full load decides
    for key in ("supported_dtypes", "cpu_engines"):
        fields[key] = tuple(fields[key])
    return fields


def _keep(model: ModelDescriptor, graph: bytes) -> None:
    """Write the graph and the model's contract to the cache (atomically; a read-only or
    full cache only costs the export next time)."""
    stem = _cache_stem(model.sha256, model.arch)
    contract = {k: getattr(model, k) for k in CONTRACT_FIELDS}
    for key in ("supported_dtypes", "cpu_engines"):
        contract[key] = list(contract[key])
    text = json.dumps(contract, sort_keys=True).encode()
    try:
        atomic_write(stem.with_suffix(".onnx"), lambda fh: fh.write(graph))
        atomic_write(stem.with_suffix(".json"), lambda fh: fh.write(text))
    except RestoraError:
        pass


def _graph(model: ModelDescriptor) -> bytes:
    """The model's ONNX graph, exported on first use and kept by weights digest: per process
    in memory, and between processes in :func:`graph_cache_file` (a CLI call skips the
    export, about 1.5 s for DRUNet, most of it importing onnx). Models without a digest
    (built in memory) are exported each time; an unwritable cache only costs the export."""
    if not model.sha256:
        return onnx_graph(model)
    key = model.sha256
    with _GRAPHS_LOCK:
        if key in _GRAPHS:
            _GRAPHS.move_to_end(key)
            return _GRAPHS[key]
    try:
        graph = graph_cache_file(model).read_bytes()
    except OSError:
        graph = b""
    if not graph:
        graph = onnx_graph(model)
        _keep(model, graph)
    with _GRAPHS_LOCK:
        _GRAPHS[key] = graph
        while len(_GRAPHS) > _GRAPHS_KEPT:
            _GRAPHS.popitem(last=False)
    return graph


def _feeds(x: np.ndarray, sigma: float | None) -> dict[str, np.ndarray]:
    """The graph's inputs: ``image`` (N, C, H, W) float32 and, for noise-map networks,
    ``sigma`` (N,) in 8-bit units."""
    feeds = {"image": np.ascontiguousarray(x, np.float32)}
    if sigma is not None:
        feeds["sigma"] = np.full((x.shape[0],), float(sigma), np.float32)
    return feeds


class OnnxNetwork:
    """A restora network run by ONNX Runtime on the CPU in fp32: ``net.run(x, sigma)`` with
    ``x`` an (N, C, H, W) float32 array (padded to the network's size multiple) and
    ``sigma`` the noise std in 8-bit units (``None`` for networks without a noise map)
    returns the float32 output array. ``threads``: ONNX Runtime's intra-op threads."""

    def __init__(self, model: ModelDescriptor, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # No memory arena: an arena keeps a tile's activations after the run (+1.1 GB held per
        # session on 1024-pixel DRUNet tiles, peak 1.93 GB vs 1.53 GB), which long-lived web
        # and batch processes and the 100 MP budget cannot afford; without it memory goes
        # back as torch's does, for 1.2x the arena's time (still 0.70x torch's).
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(_graph(model), options,
                                            providers=["CPUExecutionProvider"])
        self.needs_sigma = model.needs_sigma

    def run(self, x: np.ndarray, sigma: float | None = None) -> np.ndarray:
        return self.session.run(None, _feeds(x, sigma if self.needs_sigma else None))[0]


class OpenVinoNetwork:
    """A restora network run by OpenVINO on the CPU, run as :class:`OnnxNetwork` is.

    precision: ``fp32`` or ``bf16`` (OpenVINO's inference precision hint: ``--precision
    auto`` picks bf16 only on CPUs with native bf16; asked for elsewhere, OpenVINO runs fp32). One model compiled for any input size (a
    dynamic shape: compiling takes about 0.1 s, and runs at the static shape's speed); each
    call makes its own infer request, so concurrent calls (web, batch threads) are safe and
    a tile's buffers are freed when it is done.
    """

    def __init__(self, model: ModelDescriptor, threads: int, precision: str) -> None:
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(
            core.read_model(_graph(model), b""), "CPU",
            {"INFERENCE_NUM_THREADS": int(threads),
             "INFERENCE_PRECISION_HINT": {"fp32": "f32", "bf16": "bf16"}[precision]})
        self.needs_sigma = model.needs_sigma

    def run(self, x: np.ndarray, sigma: float | None = None) -> np.ndarray:
        request = self.compiled.create_infer_request()
        request.infer(_feeds(x, sigma if self.needs_sigma else None))
        return np.array(request.get_output_tensor(0).data, np.float32, copy=True)
