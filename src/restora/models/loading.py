"""Load weight files safely (by content, not extension), save them as safetensors.

Formats: safetensors; PyTorch zip or legacy files (``torch.load(weights_only=True)``, or for
pickled whole modules the restricted unpickler of :mod:`restora.models.unpickler`, which
never runs code from the file); MatConvNet ``.mat`` (DnCNN, FFDNet). The state dict is then
matched to our architectures (:mod:`restora.models.detect`) or handed to spandrel.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

from restora.errors import ModelLoadError, UnsafeModelError
from restora.models.descriptor import ModelDescriptor

FORMAT_VERSION = "1"
_DEFAULT_TILE = 512

# Per-architecture calling contract of our own networks.
_CONTRACT: dict[str, dict[str, Any]] = {
    "dncnn": {"task": "denoise", "needs_sigma": False, "size_multiple": 1},
    "ffdnet": {"task": "denoise", "needs_sigma": True, "size_multiple": 1},
    "drunet": {"task": "denoise", "needs_sigma": True, "size_multiple": 8},
    "nafnet": {"task": "restore", "needs_sigma": False, "size_multiple": 1},
    "edsr": {"task": "upscale", "needs_sigma": False, "size_multiple": 1},
    "edm": {"task": "denoise", "needs_sigma": True, "size_multiple": 8},
}
_RGB_DEFAULT = ("nafnet", "edsr", "edm")


def calling_contract(arch: str, model: Any) -> dict[str, Any]:
    """``task``, ``needs_sigma``, ``size_multiple`` and ``scale`` of one of our networks
    (``model``: the built module, whose ``noise_map`` / ``scale`` attributes refine the
    per-architecture defaults)."""
    contract = dict(_CONTRACT[arch])
    contract["needs_sigma"] = bool(getattr(model, "noise_map", contract["needs_sigma"]))
    contract["scale"] = int(getattr(model, "scale", 1))
    return contract


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_format(path: Path) -> str:
    """``"safetensors"``, ``"torch-zip"``, ``"torch-legacy"`` or ``"mat"`` from the first bytes."""
    from restora.models.matconvnet import is_mat_file

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

    from restora.models.unpickler import restricted_torch_load, state_dict_from_object

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
        raise ModelLoadError(f"{path}: could not read this PyTorch file ({type(exc).__name__}: {exc})") from None
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
    """
    import torch

    path = Path(path)
    kind = sniff_format(path)
    digest = sha256_file(path)
    meta: dict[str, str] = {}
    info: dict[str, dict[str, Any]] = {}
    if kind == "mat":
        from restora.models.matconvnet import convert_simplenn

        arch, config, state = convert_simplenn(path)
        task = "restore" if arch == "dncnn" and "dncnn3" in path.name.lower() else None
        return _make(arch, config, state, path, digest, task=task, licence=None)
    if kind == "safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = dict(fh.metadata() or {})
            state = load_file(str(path), device="cpu")
        except Exception as exc:
            raise ModelLoadError(f"{path}: could not read the safetensors file ({exc})") from None
        arch = meta.get("restora_arch")
        if arch in _CONTRACT:
            try:
                config = json.loads(meta.get("restora_config", "{}"))
            except json.JSONDecodeError as exc:
                raise ModelLoadError(f"{path}: bad 'restora_config' metadata ({exc})") from None
            return _make(arch, config, state, path, digest, task=meta.get("restora_task"), licence=meta.get("restora_licence"))
    else:
        state, info = _torch_state_dict(path)

    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    from restora.models.detect import detect

    bn_eps = {p: float(i["eps"]) for p, i in info.items() if "eps" in i and "BatchNorm" in str(i.get("class"))}
    found = detect(state, bn_eps)
    if found is not None:
        arch, config, our_state = found
        try:
            return _make(arch, config, our_state, path, digest, task=meta.get("restora_task"), licence=meta.get("restora_licence"))
        except ModelLoadError:
            pass  # looked like ours but did not fit: let spandrel try
    return _spandrel(state, path, digest, meta)


def _make(
    arch: str,
    config: dict[str, Any],
    state: dict[str, Any],
    path: Path,
    digest: str,
    *,
    task: str | None,
    licence: str | None,
) -> ModelDescriptor:
    from restora.models.detect import build

    config = json.loads(json.dumps(config))  # JSON form (lists, not tuples), as saved
    try:
        model = build(arch, config)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: bad {arch} configuration {config}: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"{path}: weights do not fit a {arch} {config}: {str(exc)[:400]}") from None
    model.float().eval()
    contract = calling_contract(arch, model)
    in_ch = int(config.get("in_channels", 3 if arch in _RGB_DEFAULT else 1))
    return ModelDescriptor(
        model=model,
        arch=arch,
        task=task or contract["task"],  # type: ignore[arg-type]
        scale=contract["scale"],
        in_channels=in_ch,
        out_channels=int(config.get("out_channels") or in_ch),
        needs_sigma=contract["needs_sigma"],
        supported_dtypes=("fp32", "fp16", "bf16"),
        size_multiple=contract["size_multiple"],
        tile_hint=_DEFAULT_TILE,
        licence=licence,
        source=path,
        sha256=digest,
        config=config,
    )


def _spandrel(state: dict[str, Any], path: Path, digest: str, meta: dict[str, str]) -> ModelDescriptor:
    import spandrel

    from restora.models.detect import ARCHS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        keys = list(state)[:8]
        shapes = ", ".join(f"{k} {tuple(state[k].shape)}" for k in keys)
        raise ModelLoadError(
            f"{path}: unknown architecture: the {len(state)} tensors match none of restora's "
            f"architectures ({', '.join(ARCHS)}) nor spandrel's. First keys: {shapes}"
        ) from None
    except Exception as exc:
        raise ModelLoadError(f"{path}: spandrel recognised the weights but could not load them ({type(exc).__name__}: {exc})") from None
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

    from restora.io.atomic import atomic_write

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
