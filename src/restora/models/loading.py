"""Load weight files safely (by content, not extension), save them as safetensors.

Formats: safetensors; PyTorch zip or legacy files (``torch.load(weights_only=True)``, or for
pickled whole modules the restricted unpickler of :mod:`restora.models.unpickler`, which
never runs code from the file); MatConvNet ``.mat`` (DnCNN, FFDNet). The state dict is then
matched to our architectures (:mod:`restora.archs.registry`) or handed to spandrel.
"""

from __future__ import annotations

import json
import pickle
import threading
import warnings
from pathlib import Path
from typing import Any

from restora.archs.registry import (
    DEFAULT_HALO,
    ArchSpec,
    arch_names,
    detect,
    get_spec,
    specs,
    strip_prefixes,
)
from restora.errors import InvalidParameterError, ModelLoadError, UnsafeModelError
from restora.io.atomic import atomic_write, file_sha256
from restora.models.descriptor import DeferredModelDescriptor, ModelDescriptor
from restora.models.matconvnet import convert_simplenn, is_mat_file
from restora.models.onnxrt import cached_contract
from restora.models.unpickler import restricted_torch_load, state_dict_from_object

FORMAT_VERSION = "1"
_DEFAULT_TILE = 512


def sniff_format(path: Path) -> str:
    """``"safetensors"``, ``"torch-zip"``, ``"torch-legacy"`` or ``"mat"`` from the first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such weight file") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the weight file ({exc.strerror})") from None
    if len(head) < 8:
        raise ModelLoadError(f"{path}: file is empty or truncated ({len(head)} bytes); not a weight file")
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if is_mat_file(head):
        return "mat"
    header_len = int.from_bytes(head[:8], "little")
    if head[8:9] == b"{" and 0 < header_len < 100_000_000:
        # before the pickle test: a header of 0x480 bytes starts b"\x80\x04" like a pickle
        return "safetensors"
    if head[0] == 0x80 and head[1] in range(2, 6):
        return "torch-legacy"
    raise ModelLoadError(
        f"{path}: unknown weight-file format (first bytes {head[:8]!r}). Expected safetensors, "
        f"a PyTorch .pth/.pt (zip or legacy pickle) or a MatConvNet .mat"
    )


def _torch_state_dict(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # weights_only refuses a global (e.g. a pickled nn.Module class): restricted load.
        obj = restricted_torch_load(path)
    except UnsafeModelError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{path}: could not read this PyTorch file ({type(exc).__name__}: {_one_line(exc, 400)})") from None
    state, info = state_dict_from_object(obj)
    if not state:
        raise ModelLoadError(
            f"{path}: no tensors found (top-level object: {type(obj).__name__}"
            f"{', keys ' + str(list(obj)[:8]) if isinstance(obj, dict) else ''}). Expected a "
            f"state dict, a checkpoint with 'params'/'state_dict'/'model', or a pickled nn.Module"
        )
    return state, info


def load_model(path: str | Path) -> ModelDescriptor:
    """Load a weight file into a :class:`ModelDescriptor` (CPU, float32, eval mode).

    The format is recognised from the file's content. Raises :class:`UnsafeModelError` when
    a pickle tries to run code, :class:`ModelLoadError` when the file cannot be read or its
    architecture is not recognised (the message lists the first keys seen).

    A restora safetensors file whose graph an earlier process exported (same bytes, same
    code: :func:`~restora.models.onnxrt.cached_contract`) loads without torch: its
    descriptor builds the torch network, with every check below, on first use of ``model``
    (:class:`~restora.models.descriptor.DeferredModelDescriptor`), which a graph engine
    never needs.
    """
    path = Path(path)
    kind = sniff_format(path)
    digest = file_sha256(path)
    if kind == "safetensors":
        deferred = _deferred(path, digest)
        if deferred is not None:
            return deferred
    return _load(path, kind, digest)


def _deferred(path: Path, digest: str) -> ModelDescriptor | None:
    """The descriptor of a restora safetensors file whose contract is cached, its network
    built when first asked for; ``None`` when the cache does not know the file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
    except Exception:  # noqa: BLE001  (the full load names the problem)
        return None
    arch = meta.get("restora_arch")
    contract = cached_contract(digest, arch) if arch in arch_names() else None
    if contract is None:
        return None

    def build() -> Any:
        full = _load(path, sniff_format(path), file_sha256(path))
        if full.sha256 != digest:
            raise ModelLoadError(f"{path}: the weight file changed after it was loaded; load it again")
        return full.model

    return DeferredModelDescriptor.deferred(
        build, arch=arch, source=path, sha256=digest, licence=meta.get("restora_licence"),
        **contract)


def _load(path: Path, kind: str, digest: str) -> ModelDescriptor:
    """:func:`load_model` of a file of format ``kind`` whose SHA-256 is ``digest``."""
    import torch

    meta: dict[str, str] = {}
    info: dict[str, dict[str, Any]] = {}
    if kind == "mat":
        arch, config, state = convert_simplenn(path)
        task = "restore" if arch == "dncnn" and "dncnn3" in path.name.lower() else None
        return _make(get_spec(arch), config, state, path, digest, task=task, licence=None)
    if kind == "safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = dict(fh.metadata() or {})
            state = load_file(str(path), device="cpu")
        except Exception as exc:
            raise ModelLoadError(f"{path}: could not read the safetensors file ({_one_line(exc, 400)})") from None
        arch = meta.get("restora_arch")
        if arch in arch_names():
            try:
                config = json.loads(meta.get("restora_config", "{}"))
            except json.JSONDecodeError as exc:
                raise ModelLoadError(f"{path}: bad 'restora_config' metadata ({exc})") from None
            return _make(get_spec(arch), config, state, path, digest,
                         task=meta.get("restora_task"), licence=meta.get("restora_licence"))
    else:
        state, info = _torch_state_dict(path)

    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    bn_eps = {p: float(i["eps"]) for p, i in info.items() if "eps" in i and "BatchNorm" in str(i.get("class"))}
    found = _detect(state, bn_eps, path)
    if found is not None:
        spec, config, our_state = found
        try:
            return _make(spec, config, our_state, path, digest, task=meta.get("restora_task"),
                         licence=meta.get("restora_licence"))
        except ModelLoadError:
            pass  # looked like ours but did not fit: let spandrel try
    return _spandrel(state, path, digest, meta)


def _detect(state: dict[str, Any], bn_eps: dict[str, float], path: Path
            ) -> tuple[ArchSpec, dict[str, Any], dict[str, Any]] | None:
    """:func:`restora.archs.registry.detect`, with a detector that trips over a partial or
    inconsistent state dict (a missing tensor, a tensor of the wrong rank) reported as a
    :class:`ModelLoadError` naming the file and the architecture it looked like."""
    try:
        return detect(state, bn_eps)
    except ModelLoadError:
        raise
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        looked = "a known architecture"
        stripped = strip_prefixes(state)
        for spec in specs():  # which detector failed, to name it
            try:
                if spec.detect is not None:
                    spec.detect(stripped, bn_eps)
            except Exception:  # noqa: BLE001
                looked = f"a {spec.name} network"
                break
        what = f"no tensor {exc}" if isinstance(exc, KeyError) else \
            f"{type(exc).__name__}: {_one_line(exc, 200)}"
        raise ModelLoadError(f"{path}: the tensors look like {looked} but the state dict is "
                             f"partial or inconsistent ({what}); not built") from None


#: Largest network restora builds from a weight file (parameters; 2 GB in float32).
MAX_PARAMETERS = 500_000_000
#: Largest value of any integer in an architecture's configuration (widths, depths): the
#: field's networks stay far below it (widths up to ~1024, depths up to a few hundred).
MAX_CONFIG_INT = 4096


def _check_size(spec: ArchSpec, config: dict[str, Any], state: dict[str, Any], path: Path) -> None:
    """Refuse, before anything is allocated, a configuration that is implausible or that
    describes another network than the tensors in the file (a lying header asking for a
    huge build): it is built on torch's ``meta`` device, which holds shapes, not data."""
    import torch

    def ints(value: Any) -> list[int]:
        if isinstance(value, bool):
            return []
        if isinstance(value, int):
            return [value]
        if isinstance(value, (list, tuple)):
            return [i for v in value for i in ints(v)]
        return []

    largest = max((i for v in config.values() for i in ints(v)), default=0)
    present = sum(t.numel() for t in state.values() if hasattr(t, "numel"))
    if largest > min(MAX_CONFIG_INT, present):  # no width or depth exceeds the weights held
        raise ModelLoadError(f"{path}: implausible {spec.name} configuration {config} (a value "
                             f"of {largest} for {present:,} weights in the file); not built")
    try:
        with torch.device("meta"):
            shapes = spec.build(config).state_dict()
    except InvalidParameterError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None
    except (RuntimeError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        raise ModelLoadError(f"{path}: the {spec.name} configuration {config} cannot be built "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
    described = sum(t.numel() for t in shapes.values())
    if described > MAX_PARAMETERS:
        raise ModelLoadError(f"{path}: the {spec.name} configuration describes {described:,} "
                             f"values, more than restora builds ({MAX_PARAMETERS:,}); not built")
    if described != present:
        raise ModelLoadError(f"{path}: the {spec.name} configuration {config} describes "
                             f"{described:,} values but the file holds {present:,}; not built")


def _make(
    spec: ArchSpec,
    config: dict[str, Any],
    state: dict[str, Any],
    path: Path,
    digest: str,
    *,
    task: str | None,
    licence: str | None,
) -> ModelDescriptor:
    config = json.loads(json.dumps(config))  # JSON form (lists, not tuples), as saved
    _check_size(spec, config, state, path)
    try:
        model = spec.build(config)
    except InvalidParameterError as exc:
        raise ModelLoadError(f"{path}: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"{path}: weights do not fit a {spec.name} {config}: "
                             f"{_one_line(exc, 400)}") from None
    model.float().eval()
    return describe(spec, model, config, task=task, source=path, sha256=digest, licence=licence)


def describe(spec: ArchSpec, model: Any, config: dict[str, Any], *, source: Path,
             task: str | None = None, sha256: str = "", licence: str | None = None) -> ModelDescriptor:
    """The descriptor of ``model``, a network of ``spec`` built from ``config`` (its JSON
    form): task (unless given), scale, noise-level input and size multiple from the network,
    channels and tiling reach from the config."""
    contract = spec.contract(model)
    in_ch = spec.in_channels(config)
    return ModelDescriptor(
        model=model,
        arch=spec.name,
        task=task or contract["task"],  # type: ignore[arg-type]
        scale=contract["scale"],
        in_channels=in_ch,
        out_channels=int(config.get("out_channels") or in_ch),
        needs_sigma=contract["needs_sigma"],
        supported_dtypes=("fp32", "fp16", "bf16"),
        size_multiple=contract["size_multiple"],
        tile_hint=_DEFAULT_TILE,
        halo=spec.reach(config),
        licence=licence,
        source=source,
        sha256=sha256,
        config=config,
        cpu_engines=spec.cpu_engines,
    )


def save_network(model: Any, arch: str, config: dict[str, Any], path: str | Path, *,
                 task: str | None = None, licence: str | None = None) -> Path:
    """Save ``model``, a network of the architecture table's ``arch`` built from ``config``,
    with :func:`save_model` (what the trainer writes); :func:`load_model` rebuilds it."""
    config = json.loads(json.dumps(dict(config)))  # JSON form (lists, not tuples), as saved
    return save_model(describe(get_spec(arch), model, config, task=task, source=Path(path),
                               licence=licence), path)


def _one_line(exc: BaseException, limit: int) -> str:
    """An exception's message on one line (torch's state-dict errors span many), shortened."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _spandrel(state: dict[str, Any], path: Path, digest: str, meta: dict[str, str]) -> ModelDescriptor:
    import spandrel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        keys = list(state)[:8]
        shapes = ", ".join(f"{k} {tuple(state[k].shape)}" for k in keys)
        raise ModelLoadError(
            f"{path}: unknown architecture: the {len(state)} tensors match none of restora's "
            f"architectures ({', '.join(arch_names())}) nor spandrel's. First keys: {shapes}"
        ) from None
    except Exception as exc:
        raise ModelLoadError(f"{path}: spandrel recognised the weights but could not load them "
                             f"({type(exc).__name__}: {_one_line(exc, 400)})") from None
    if not isinstance(sd, spandrel.ImageModelDescriptor):
        raise ModelLoadError(
            f"{path}: {sd.architecture.name} is a {sd.purpose} model that needs a mask; restora "
            f"runs image-to-image models only"
        )
    sd.model.float().eval()
    task = meta.get("restora_task") or ("upscale" if sd.scale > 1 else "restore")
    dtypes = ("fp32",) + (("fp16",) if sd.supports_half else ()) + (("bf16",) if sd.supports_bfloat16 else ())
    tiling = getattr(sd.tiling, "name", "SUPPORTED")
    return ModelDescriptor(
        model=sd.model,
        arch=f"spandrel:{sd.architecture.name}",
        task=task,  # type: ignore[arg-type]
        scale=int(sd.scale),
        in_channels=int(sd.input_channels),
        out_channels=int(sd.output_channels),
        needs_sigma=False,
        supported_dtypes=dtypes,
        size_multiple=int(sd.size_requirements.multiple_of),
        tile_hint=_DEFAULT_TILE if tiling == "SUPPORTED" else None,
        halo=DEFAULT_HALO if tiling == "SUPPORTED" else -1,
        licence=meta.get("restora_licence"),
        source=path,
        sha256=digest,
        config={"minimum_size": int(sd.size_requirements.minimum), "square": bool(sd.size_requirements.square), "tiling": tiling},
        call_fn=sd,
    )


def save_model(descriptor: ModelDescriptor, path: str | Path) -> Path:
    """Write the model's weights as safetensors, with arch + config in the metadata.

    :func:`load_model` on the result rebuilds exactly the same network. Returns ``path``.
    """
    from safetensors.torch import save

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in descriptor.model.state_dict().items()}
    meta = {
        "format": "pt",
        "restora_format": FORMAT_VERSION,
        "restora_arch": descriptor.arch,
        "restora_config": json.dumps(descriptor.config, sort_keys=True),
        "restora_task": descriptor.task,
        "restora_source_sha256": descriptor.sha256,
    }
    if descriptor.licence:
        meta["restora_licence"] = descriptor.licence
    data = save(state, metadata=meta)
    return atomic_write(path, lambda fh: fh.write(data))


def convert(in_path: str | Path, out_path: str | Path) -> ModelDescriptor:
    """Load any supported weight file and save it as safetensors (``restora convert IN OUT``).

    Returns the descriptor of the written file (loaded back from ``out_path``). The output is
    written atomically and may not be the input file.
    """
    if Path(out_path).resolve() == Path(in_path).resolve():
        raise ModelLoadError(f"{out_path}: output is the input file; choose another output path")
    save_model(load_model(in_path), out_path)
    return load_model(out_path)


_CACHE: dict[tuple[str, int, int], ModelDescriptor] = {}
_CACHE_LOCK = threading.Lock()
#: Loaded networks kept per process by :func:`load_model_cached` (least recently used go).
CACHE_SIZE = 8


def load_model_cached(path: str | Path) -> ModelDescriptor:
    """:func:`load_model`, loading each file once per process (keyed by its resolved path,
    size and modification time, so a changed file is loaded again). Batch workers, the web
    server and repeated API calls share the descriptor; it is never modified by restora."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return load_model(path)  # let load_model name the problem
    with _CACHE_LOCK:
        hit = _CACHE.pop(key, None)
        if hit is not None:
            _CACHE[key] = hit  # most recently used last
            return hit
    descriptor = load_model(path)
    with _CACHE_LOCK:
        _CACHE[key] = descriptor
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
    return descriptor
