"""Read pickled PyTorch files without running any code from them.

``torch.load(weights_only=True)`` refuses files that pickle a whole ``nn.Module`` (the class
is a global that would have to be imported). :func:`restricted_torch_load` reads those too:
its unpickler resolves only a short allow-list of real, side-effect-free callables (tensor
and storage rebuild functions, ``OrderedDict``, plain builtin containers); every other
global becomes an inert *stand-in* class that records its name, constructor arguments and
pickled state and does nothing else. Nothing named in the file is imported. Globals that
can only mean code execution (``os.system``, ``builtins.exec``, ``subprocess.*``, ...) are
refused with :class:`~restora.errors.UnsafeModelError`.

The idea follows spandrel's ``RestrictedUnpickle`` and torch's ``_weights_only_unpickler``.
"""

from __future__ import annotations

import builtins
import collections
import pickle
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from restora.errors import ModelLoadError, UnsafeModelError

# Modules whose globals have no business in a weight file: refused outright.
_DENIED_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "shutil",
        "socket", "importlib", "runpy", "pty", "code", "codeop", "ctypes", "pickle",
        "_pickle", "marshal", "types", "webbrowser", "pathlib", "tempfile",
        "multiprocessing", "threading", "_thread", "signal", "asyncio", "platform", "io",
        "_io", "pdb", "bdb", "operator", "_operator", "functools", "inspect", "commands",
        "popen2", "timeit", "cProfile", "profile", "trace", "urllib", "http", "ftplib",
        "smtplib", "telnetlib", "requests", "pip", "setuptools", "distutils", "glob", "gc",
        "site", "sysconfig", "zipimport", "dill", "shelve", "sqlite3", "imp",
    }
)
# Names that are code execution wherever they live.
_DENIED_NAMES = frozenset(
    {
        "eval", "exec", "execfile", "compile", "system", "popen", "spawn", "spawnv",
        "spawnl", "execv", "execve", "execl", "fork", "__import__", "getattr", "setattr",
        "delattr", "globals", "locals", "vars", "open", "input", "breakpoint",
        "check_output", "check_call", "Popen", "call", "run", "loads", "load",
        "import_module", "remove", "unlink", "rmtree", "apply",
    }
)
# Plain builtin types that are safe to construct for real.
_SAFE_BUILTINS = frozenset(
    {
        "set", "frozenset", "dict", "list", "tuple", "int", "float", "complex", "bool",
        "bytes", "bytearray", "str", "slice", "range", "object",
    }
)


class StandIn:
    """Inert replacement for a pickled global (a module class, a helper function, ...).

    Records the global's dotted name (``restora_global``), the arguments it was called with
    (``restora_args``), its pickled state (``restora_state``) and any items/list entries.
    It has no behaviour.
    """

    restora_global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> StandIn:
        obj = object.__new__(cls)
        obj.__dict__.update(restora_args=args, restora_state=None, restora_items={}, restora_list=[])
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # REDUCE calls cls(*args)
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["restora_state"] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__["restora_items"][key] = value

    def append(self, value: Any) -> None:
        self.__dict__["restora_list"].append(value)

    def extend(self, values: Any) -> None:
        self.__dict__["restora_list"].extend(values)

    def __repr__(self) -> str:
        return f"<stand-in for {self.restora_global}>"

    @property
    def attributes(self) -> dict[str, Any]:
        """The pickled ``__dict__`` (for ``(dict, slots)`` states, both merged)."""
        state = self.restora_state
        if isinstance(state, tuple) and len(state) == 2:
            merged: dict[str, Any] = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            return merged
        return state if isinstance(state, dict) else {}


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` restricted to stand-in classes."""
    if isinstance(cls, type) and issubclass(cls, StandIn):
        obj = cls()
        if state is not None:
            obj.__setstate__(state)
        return obj
    raise pickle.UnpicklingError(f"copyreg._reconstructor of {cls!r} is not allowed")


def _safe_newobj(cls: Any, *args: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, StandIn):
        return cls(*args)
    raise pickle.UnpicklingError(f"copyreg.__newobj__ of {cls!r} is not allowed")


def _safe_rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """``torch._tensor._rebuild_from_type_v2`` that ignores tensor subclasses and state."""
    import torch

    if isinstance(func, type) and issubclass(func, StandIn):
        return func(*args)
    ret = func(*args)
    if isinstance(new_type, type) and issubclass(new_type, torch.Tensor) and type(ret) is not new_type:
        if new_type in (torch.Tensor, torch.nn.Parameter):
            ret = ret.as_subclass(new_type)
    return ret


def _real_globals() -> dict[tuple[str, str], Any]:
    import torch
    import torch._utils as tu

    real: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("typing", "OrderedDict"): collections.OrderedDict,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch", "Size"): torch.Size,
        ("torch", "Tensor"): torch.Tensor,
        ("torch._tensor", "Tensor"): torch.Tensor,
        ("torch", "device"): torch.device,
        ("torch._tensor", "_rebuild_from_type_v2"): _safe_rebuild_from_type_v2,
        ("copyreg", "_reconstructor"): _safe_reconstructor,
        ("copy_reg", "_reconstructor"): _safe_reconstructor,
        ("copyreg", "__newobj__"): _safe_newobj,
    }
    for name in (
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
        "_rebuild_meta_tensor_no_storage", "_rebuild_device_tensor_from_numpy",
    ):
        if hasattr(tu, name):
            real[("torch._utils", name)] = getattr(tu, name)
    for name in dir(torch):  # dtypes are pickled as globals, e.g. torch.float32
        value = getattr(torch, name, None)
        if isinstance(value, torch.dtype):
            real[("torch", name)] = value
    for name in _SAFE_BUILTINS:
        real[("builtins", name)] = real[("__builtin__", name)] = getattr(builtins, name)
    return real


def is_denied(module: str, name: str) -> bool:
    """Whether a global names code execution (refused, not replaced by a stand-in)."""
    if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
        return False
    return module.split(".")[0] in _DENIED_MODULES or name.rsplit(".", 1)[-1] in _DENIED_NAMES


_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _Refused(pickle.UnpicklingError):
    def __init__(self, qualname: str) -> None:
        super().__init__(qualname)
        self.qualname = qualname


def make_restricted_pickle_module() -> SimpleNamespace:
    """A ``pickle``-like module whose Unpickler never imports or runs anything from the file."""
    real = _real_globals()

    class RestrictedUnpickler(pickle.Unpickler):
        stand_ins: dict[tuple[str, str], type] = {}

        def find_class(self, module: str, name: str) -> Any:
            module = _PY2_NAMES.get(module, module)  # protocol <= 2 writes Python 2 names
            key = (module, name)
            if key in real:
                return real[key]
            if is_denied(module, name):
                raise _Refused(f"{module}.{name}")
            cls = self.stand_ins.get(key)
            if cls is None:
                cls = type(name.replace(".", "_") or "_", (StandIn,), {"restora_global": f"{module}.{name}"})
                self.stand_ins[key] = cls
            return cls

    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()

    return SimpleNamespace(
        Unpickler=RestrictedUnpickler, load=load, __name__="pickle", UnpicklingError=pickle.UnpicklingError
    )


def restricted_torch_load(path: str | Path) -> Any:
    """``torch.load`` a (zip or legacy) torch file with the restricted unpickler, on CPU.

    Returns the unpickled object, with stand-ins in place of foreign classes. Raises
    :class:`UnsafeModelError` naming ``path`` and the global when the file asks for code
    execution, :class:`ModelLoadError` when it cannot be read.
    """
    import torch

    module = make_restricted_pickle_module()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", pickle_module=module, weights_only=False)
    except _Refused as exc:
        raise UnsafeModelError(
            f"{path}: refused to load: the pickle calls the global '{exc.qualname}', which would "
            f"run code on loading. restora never executes code from weight files; if you trust "
            f"the file, re-save its state dict as .safetensors with the project that made it"
        ) from None
    except UnsafeModelError:
        raise
    except Exception as exc:  # corrupt or unsupported pickle
        raise ModelLoadError(
            f"{path}: could not read this PyTorch file with restora's restricted unpickler "
            f"({type(exc).__name__}: {exc}). Expected a torch.save() file holding a state dict or "
            f"a pickled nn.Module"
        ) from None


def state_dict_from_object(obj: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Tensors of a loaded object, keyed like ``nn.Module.state_dict()``.

    Handles plain dicts of tensors, stand-ins for pickled ``nn.Module`` trees (their
    ``_parameters``, persistent ``_buffers`` and ``_modules``) and checkpoints wrapping
    either under ``params_ema``, ``params``, ``state_dict``, ``model``, ``net`` ... Also returns
    per-module info (class name and scalar attributes such as a BatchNorm's ``eps``), keyed
    by module path. Empty dict when nothing is found.
    """
    import torch

    tensors: dict[str, Any] = {}
    info: dict[str, dict[str, Any]] = {}

    def walk_module(mod: StandIn, prefix: str, depth: int) -> None:
        if depth > 64:
            return
        attrs = mod.attributes
        scalars = {k: v for k, v in attrs.items() if isinstance(v, (int, float, bool, str)) and not k.startswith("_")}
        info[prefix.rstrip(".")] = {"class": mod.restora_global, **scalars}
        skip = attrs.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            entries = attrs.get(group)
            if isinstance(entries, dict):
                for k, v in entries.items():
                    if isinstance(v, torch.Tensor) and not (group == "_buffers" and k in skip):
                        tensors[prefix + k] = v.detach()
        children = attrs.get("_modules")
        if isinstance(children, dict):
            for k, child in children.items():
                if isinstance(child, StandIn):
                    walk_module(child, f"{prefix}{k}.", depth + 1)

    def visit(node: Any, depth: int) -> bool:
        if depth > 4:
            return False
        if isinstance(node, StandIn):
            walk_module(node, "", 0)
            return bool(tensors)
        if isinstance(node, dict):
            for key in ("params_ema", "params", "state_dict", "model_state_dict", "model", "net", "network", "generator", "netG", "module"):
                if key in node and visit(node[key], depth + 1):
                    return True
            direct = {str(k): v.detach() for k, v in node.items() if isinstance(v, torch.Tensor)}
            if direct:
                tensors.update(direct)
                return True
        return False

    visit(obj, 0)
    return tensors, info
