"""Seeded generator of crafted weight and kernel files (the hardening issue's crafted-weights
suite): pickle payloads in every container, lying safetensors headers, huge configurations,
partial state dicts, malformed and HDF5-external ``.mat`` files, object-dtype kernels.

``generate(folder, seed)`` writes the files and returns :class:`Case` records; ``check``
(run in a child process, each file in a fork of it, so its peak RSS is measured alone) loads
each one and reports how it ended. Every payload touches a marker file in ``folder/markers``
if it ever runs; every file is under 10 MB. The whole suite, with a summary::

    .venv/bin/python -m tests.models.crafted_weights /tmp/crafted 0
"""

from __future__ import annotations

import json
import os
import pickle
import random
import struct
import subprocess
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODEL, KERNEL = "model", "kernel"


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    path: Path
    kind: str  # MODEL (restora.models.load_model) | KERNEL (restora.degrade.kernels.load_kernel)
    payload: bool = False  # a pickle that would run code: must be refused


# --- payloads ------------------------------------------------------------------------------


class _Reduce:
    """Pickles as ``func(*args)``: what an attacker's file runs on a plain ``pickle.load``."""

    def __init__(self, func, args) -> None:  # type: ignore[no-untyped-def]
        self.func, self.args = func, args

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (self.func, self.args)


def _payloads(marker_dir: Path) -> dict[str, object]:
    import builtins
    import importlib

    def touch(tag: str) -> str:
        return str(marker_dir / tag)

    return {
        "os_system": _Reduce(os.system, (f"touch {touch('os_system')}",)),
        "exec": _Reduce(builtins.exec, (f"open({touch('exec')!r}, 'w').close()",)),
        "eval": _Reduce(builtins.eval, (f"open({touch('eval')!r}, 'w').close()",)),
        "popen": _Reduce(subprocess.Popen, (["touch", touch("popen")],)),
        "import_module": _Reduce(importlib.import_module, ("os",)),  # a step of a longer chain
        "open_write": _Reduce(builtins.open, (touch("open_write"), "w")),
    }


def _pickle_containers(folder: Path, markers: Path, count: int | None = None) -> list[Case]:
    import torch

    cases = []
    for tag, payload in list(_payloads(markers).items())[:count]:
        writers = {
            "raw_p2.pth": lambda p, x=payload: p.write_bytes(pickle.dumps(x, protocol=2)),
            "raw_p5.pt": lambda p, x=payload: p.write_bytes(pickle.dumps({"w": x}, protocol=5)),
            "ckpt_params.pth": lambda p, x=payload: p.write_bytes(
                pickle.dumps({"params": {"conv.weight": x}}, protocol=4)),
            "torch_zip.pth": lambda p, x=payload: torch.save(
                {"state_dict": {"w": torch.zeros(2), "x": x}}, p),
            "torch_legacy.pth": lambda p, x=payload: torch.save(
                {"model": x}, p, _use_new_zipfile_serialization=False),
            "zip_data_pkl.pth": lambda p, x=payload: _zip_with_pickle(p, x),
            "npy_object.npy": lambda p, x=payload: np.save(p, np.array([x, 1], dtype=object),
                                                           allow_pickle=True),
            "npz_object.npz": lambda p, x=payload: np.savez(p, k=np.array([x, 1], dtype=object)),
        }
        for container, write in writers.items():
            path = folder / f"pickle_{tag}_{container}"
            write(path)
            kind = KERNEL if container.startswith(("npy", "npz")) else MODEL
            cases.append(Case("pickle", f"{tag}/{container}", path, kind, payload=True))
    return cases


def _zip_with_pickle(path: Path, payload: object) -> None:
    """A zip that looks like a torch archive (``archive/data.pkl``) but holds a bare payload."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        z.writestr("archive/version", "3\n")


# --- safetensors ---------------------------------------------------------------------------


def _safetensors(path: Path, header: object, data: bytes = b"", *, length: int | None = None,
                 raw_header: bytes | None = None) -> None:
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    n = len(text) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + text + data)


def _lying_safetensors(folder: Path, rng: random.Random) -> list[Case]:
    data = bytes(64)
    headers = {
        "len_beyond_file": ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, {"length": 90_000_000}),
        "offsets_beyond_file": ({"w": {"dtype": "F32", "shape": [1 << 20], "data_offsets": [0, 1 << 22]}}, {}),
        "huge_shape": ({"w": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 64]}}, {}),
        "negative_shape": ({"w": {"dtype": "F32", "shape": [-4, 4], "data_offsets": [0, 64]}}, {}),
        "overlap": ({"a": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]},
                     "b": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}}, {}),
        "unknown_dtype": ({"w": {"dtype": "OBJ", "shape": [16], "data_offsets": [0, 64]}}, {}),
        "shape_offsets_disagree": ({"w": {"dtype": "F64", "shape": [16], "data_offsets": [0, 64]}}, {}),
        "list_header": ([1, 2, 3], {}),
        "metadata_not_str": ({"__metadata__": {"restora_arch": 5},
                              "w": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}}, {}),
    }
    cases = []
    for name, (header, extra) in headers.items():
        path = folder / f"st_{name}.safetensors"
        _safetensors(path, header, data, **extra)
        cases.append(Case("safetensors", name, path, MODEL))
    path = folder / "st_not_json.safetensors"
    _safetensors(path, None, data, raw_header=b"{" + bytes(rng.randrange(256) for _ in range(200)))
    cases.append(Case("safetensors", "not_json", path, MODEL))
    return cases


def _huge_configs(folder: Path) -> list[Case]:
    """restora's own safetensors (arch + config in the metadata) asking for huge builds."""
    import torch
    from safetensors.torch import save_file

    from restora.archs.registry import get_spec

    configs = {
        "dncnn": [{"num_features": 30_000}, {"depth": 10_000_000}, {"num_features": -3},
                  {"num_features": "wide"}, {"depth": 1e300}, {"in_channels": [4] * 100_000}],
        "drunet": [{"channels": [1 << 20] * 4}, {"num_blocks": 100_000}, {"channels": [8]}],
        "nafnet": [{"width": 50_000}, {"enc_blocks": [100_000, 1]}, {"middle_blocks": 10**9},
                   {"enc_blocks": [1] * 64, "dec_blocks": [1] * 64}],
        "ffdnet": [{"num_features": 1 << 16}, {"depth": 2**40}],
    }
    cases = []
    for arch, variants in configs.items():
        spec = get_spec(arch)
        state = {k: v.contiguous() for k, v in spec.build(spec.example).state_dict().items()
                 if isinstance(v, torch.Tensor)}
        for i, change in enumerate(variants):
            meta = {"format": "pt", "restora_arch": arch,
                    "restora_config": json.dumps({**spec.example, **change})}
            path = folder / f"config_{arch}_{i}.safetensors"
            save_file(state, str(path), metadata=meta)
            cases.append(Case("huge_config", f"{arch}/{json.dumps(change)[:40]}", path, MODEL))
    path = folder / "config_bad_json.safetensors"
    save_file({"w": torch.zeros(4)}, str(path),
              metadata={"restora_arch": "dncnn", "restora_config": "{not json"})
    cases.append(Case("huge_config", "bad_json", path, MODEL))
    return cases


# --- partial state dicts -------------------------------------------------------------------


def _partial_state_dicts(folder: Path, rng: random.Random, per_arch: int) -> list[Case]:
    import torch

    from restora.archs.registry import get_spec

    cases = []
    for arch in ("drunet", "nafnet", "dncnn", "ffdnet"):
        spec = get_spec(arch)
        full = spec.build(spec.example).state_dict()
        keys = list(full)
        for i in range(per_arch):
            how = ("drop", "rank", "truncate")[i % 3]
            state = dict(full)
            if how == "drop":  # keep the detector's anchor keys half the time
                for k in keys:
                    if rng.random() < 0.3:
                        state.pop(k)
            elif how == "rank":  # tensors of the wrong rank where the detector reads shapes
                for k in rng.sample(keys, max(1, len(keys) // 4)):
                    state[k] = torch.zeros(3)
            else:
                for k in keys[rng.randrange(1, len(keys)):]:
                    state.pop(k)
            path = folder / f"partial_{arch}_{i}_{how}.pth"
            torch.save(state, path)
            cases.append(Case("partial", f"{arch}/{how}/{i}", path, MODEL))
    return cases


# --- .mat ----------------------------------------------------------------------------------


def _mat_v5(path: Path, layers: list[dict]) -> None:
    import scipy.io

    cell = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cell[0, i] = layer
    scipy.io.savemat(path, {"net": {"layers": cell}})


def _mat_cases(folder: Path, rng: random.Random) -> list[Case]:
    import h5py

    def conv(cin: int, cout: int, k: int = 3) -> dict:
        w = np.empty(2, dtype=object)
        w[0], w[1] = np.zeros((k, k, cin, cout), np.float32), np.zeros((1, cout), np.float32)
        return {"type": "conv", "weights": w, "pad": 1.0, "stride": 1.0}

    def weights(*arrays: np.ndarray) -> np.ndarray:
        cell = np.empty(len(arrays), dtype=object)
        for i, a in enumerate(arrays):
            cell[i] = a
        return cell

    relu = {"type": "relu"}
    v5 = {
        "conv_without_weights": [{"type": "conv"}, relu, conv(4, 4), relu, conv(4, 1)],
        "conv_one_weight": [{"type": "conv", "weights": weights(np.zeros((3, 3, 1, 4), np.float32))},
                            relu, conv(4, 1)],
        "short_bnorm": [conv(1, 4), {"type": "bnorm", "weights": weights(np.ones(4, np.float32),
                                                                          np.ones(4, np.float32))},
                        relu, conv(4, 1)],
        "bnorm_wrong_moments": [conv(1, 4), {"type": "bnorm", "weights": weights(
            np.ones(4, np.float32), np.ones(4, np.float32), np.ones((3, 2), np.float32))},
            relu, conv(4, 1)],
        "bnorm_zero_std": [conv(1, 4), {"type": "bnorm", "weights": weights(
            np.ones(4, np.float32), np.ones(4, np.float32), np.zeros((4, 2), np.float32))},
            relu, conv(4, 1)],
        "bnorm_first": [{"type": "bnorm", "weights": weights(np.ones(1), np.ones(1), np.ones(2))},
                        conv(1, 4), relu, conv(4, 1)],
        "filter_5d": [{"type": "conv", "weights": weights(np.zeros((3, 3, 1, 4, 2), np.float32),
                                                          np.zeros((1, 4), np.float32))},
                      relu, conv(4, 1)],
        "filter_empty": [{"type": "conv", "weights": weights(np.zeros((0, 3), np.float32),
                                                             np.zeros(0, np.float32))}, relu, conv(4, 1)],
        "bias_count": [{"type": "conv", "weights": weights(np.zeros((3, 3, 1, 4), np.float32),
                                                           np.zeros((1, 7), np.float32))}, relu, conv(4, 1)],
        "channels_do_not_chain": [conv(1, 4), relu, conv(5, 1)],
        "text_weights": [{"type": "conv", "weights": np.array(["abc", "def"], dtype=object)},
                         relu, conv(4, 1)],
        "nan_weights": [{"type": "conv", "weights": weights(np.full((3, 3, 1, 4), np.nan, np.float32),
                                                            np.zeros((1, 4), np.float32))}, relu, conv(4, 1)],
        "5x5_conv": [conv(1, 4, k=5), relu, conv(4, 1)],
        "numeric_type": [{"type": 5.0}, conv(1, 4), relu, conv(4, 1)],
        "no_layers": [],
        "ffdnet_bad_subp": [{"type": "SubP"}, {"type": "concat"}, conv(6, 4), relu, conv(4, 3),
                            {"type": "SubP"}],
    }
    cases = []
    for name, layers in v5.items():
        path = folder / f"mat_{name}.mat"
        _mat_v5(path, layers)
        cases.append(Case("mat", name, path, MODEL))
    # a MAT-file whose 'net' is not a struct, and a cut one
    import scipy.io

    path = folder / "mat_net_is_number.mat"
    scipy.io.savemat(path, {"net": np.arange(4.0)})
    cases.append(Case("mat", "net_is_number", path, MODEL))
    good = folder / "mat_good_for_cut.mat"
    _mat_v5(good, [conv(1, 8), relu, conv(8, 8), relu, conv(8, 1)])
    data = good.read_bytes()
    good.unlink()
    for cut in (rng.randrange(128, len(data) - 1) for _ in range(3)):
        path = folder / f"mat_cut_{cut}.mat"
        path.write_bytes(data[:cut])
        cases.append(Case("mat", f"cut_{cut}", path, MODEL))
    flipped = bytearray(data)
    for _ in range(20):
        flipped[rng.randrange(128, len(flipped))] = rng.randrange(256)
    path = folder / "mat_byteflip.mat"
    path.write_bytes(bytes(flipped))
    cases.append(Case("mat", "byteflip", path, MODEL))

    # HDF5 (v7.3): external storage / link, a virtual dataset, a gzip bomb, layers not refs
    secret = folder / "secret.bin"
    secret.write_bytes(b"private bytes of another file" * 8)
    def h5(name: str, make) -> None:  # type: ignore[no-untyped-def]
        path = folder / f"h5_{name}.mat"
        with h5py.File(path, "w") as f:
            make(f)
        cases.append(Case("mat_hdf5", name, path, MODEL))

    h5("external_storage", lambda f: f.create_dataset(
        "net/layers", shape=(32,), dtype="u1", external=[(str(secret), 0, 32)]))
    h5("external_link", lambda f: f.__setitem__("net", h5py.ExternalLink(str(folder / "o.h5"), "/net")))

    def virtual(f) -> None:  # type: ignore[no-untyped-def]
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(folder / "o.h5"), "data", shape=(4,))
        f.create_virtual_dataset("net/layers", layout)

    h5("virtual", virtual)
    h5("gzip_bomb", lambda f: f.create_dataset("net/layers", shape=(1 << 28,), dtype="f8",
                                               chunks=(1 << 16,), compression="gzip"))
    h5("layers_numeric", lambda f: f.create_dataset("net/layers", data=np.arange(6.0)))
    h5("no_net", lambda f: f.create_dataset("weights", data=np.arange(6.0)))
    return cases


# --- kernels -------------------------------------------------------------------------------


def _kernel_cases(folder: Path) -> list[Case]:
    import scipy.io

    cases = []

    def add(name: str, write) -> None:  # type: ignore[no-untyped-def]
        path = folder / name
        write(path)
        cases.append(Case("kernel", name, path, KERNEL))

    add("k_object_strings.npy", lambda p: np.save(p, np.array(["a", 1, None], dtype=object),
                                                  allow_pickle=True))
    add("k_huge_header.npy", lambda p: _npy_header(p, "(100000, 100000)"))
    add("k_negative_header.npy", lambda p: _npy_header(p, "(-1, 5)"))
    add("k_3d.npy", lambda p: np.save(p, np.ones((2, 3, 3))))
    add("k_nan.npy", lambda p: np.save(p, np.full((3, 3), np.nan)))
    add("k_zero_sum.npy", lambda p: np.save(p, np.array([[1.0, -1.0]])))
    add("k_complex.npy", lambda p: np.save(p, np.ones((3, 3), np.complex128)))
    add("k_cell_strings.mat", lambda p: scipy.io.savemat(p, {"k": np.array(["ab", "cd"], dtype=object)}))
    add("k_struct.mat", lambda p: scipy.io.savemat(p, {"k": {"a": np.ones(3)}}))
    add("k_big_zeros.mat", lambda p: scipy.io.savemat(p, {"k": np.zeros((6000, 6000), np.uint8)},
                                                      do_compression=True))
    return cases


def _npy_header(path: Path, shape: str) -> None:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - len(header) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(64))


# --- the suite -----------------------------------------------------------------------------


def generate(folder: Path, seed: int = 0, *, partial_per_arch: int = 6,
             payloads: int | None = None) -> list[Case]:
    """Write every crafted file under ``folder`` (seeded) and return the cases; ``payloads``:
    how many of the pickle payloads go into every container (all by default)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    markers = folder / "markers"
    markers.mkdir(exist_ok=True)
    return [
        *_pickle_containers(folder, markers, payloads),
        *_lying_safetensors(folder, rng),
        *_huge_configs(folder),
        *_partial_state_dicts(folder, rng, partial_per_arch),
        *_mat_cases(folder, rng),
        *_kernel_cases(folder),
    ]


def check(cases: list[Case]) -> list[dict]:
    """Load every case; ``outcome``: ``loaded``, ``refused`` (a restora error, one line naming
    the file) or ``escaped`` (any other exception: a bug)."""
    from restora.degrade.kernels import load_kernel
    from restora.errors import RestoraError
    from restora.models import load_model

    results = []
    for case in cases:
        row = {**asdict(case), "path": str(case.path)}
        try:
            (load_model if case.kind == MODEL else load_kernel)(case.path)
            row["outcome"] = "loaded"
        except RestoraError as exc:
            message = str(exc)
            row.update(outcome="refused", error=type(exc).__name__, message=message[:300],
                       names_file=str(case.path) in message or case.path.name in message,
                       one_line="\n" not in message.strip())
        except BaseException as exc:  # noqa: BLE001  (the suite counts them)
            row.update(outcome="escaped", error=type(exc).__name__, message=str(exc)[:300])
        results.append(row)
    return results


def _forked(case: Case, timeout: int) -> dict:
    """:func:`check` of one case in a forked process: its own peak RSS (``ru_maxrss`` of
    the fork, which starts from this process's resident memory) and a ``timeout``."""
    import signal
    import tempfile

    with tempfile.TemporaryFile() as out:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                signal.alarm(timeout)
                out.write(json.dumps(check([case])[0]).encode())
                out.flush()
            except BaseException:  # noqa: BLE001
                code = 3
            os._exit(code)
        _, status, usage = os.wait4(pid, 0)
        out.seek(0)
        text = out.read().decode()
    if os.WIFSIGNALED(status) or not text:
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "no result"
        row = {**asdict(case), "path": str(case.path), "outcome": "crashed", "error": why}
    else:
        row = json.loads(text)
    row["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    return row


def _child() -> None:
    """The checking process (``python -m tests.models.crafted_weights --check CASES.json``):
    imports the loaders, then loads each case in a fork of itself and prints the rows of
    :func:`check` with each fork's peak RSS, as JSON. Nothing of torch runs before the forks
    (only imports), so forking is safe."""
    import sys
    import warnings

    warnings.simplefilter("ignore")
    import restora.degrade.kernels
    import restora.models.loading  # noqa: F401

    for module in ("torch", "safetensors.torch", "h5py", "scipy.io", "spandrel"):
        try:
            __import__(module)
        except ImportError:
            pass
    rows = json.loads(Path(sys.argv[2]).read_text())
    cases = [Case(**{**row, "path": Path(row["path"])}) for row in rows]
    print(json.dumps([_forked(case, 60) for case in cases]))


def save_cases(cases: list[Case], path: Path) -> None:
    path.write_text(json.dumps([{**asdict(c), "path": str(c.path)} for c in cases]))


def run_suite(folder: Path, seed: int = 0, **options: int) -> tuple[list[Case], list[dict], float]:
    """Generate the cases here, check them in a child process; returns the cases, the rows
    and the largest peak RSS in MiB of the child's forks (one per file; a fork starts from
    the child's memory, so this bounds the child too). Not ``RUSAGE_CHILDREN`` of this
    process: that is the largest of every child it ever had (earlier tests' too)."""
    import sys

    cases = generate(folder, seed, **options)
    save_cases(cases, folder / "cases.json")
    done = subprocess.run([sys.executable, "-m", "tests.models.crafted_weights", "--check",
                           str(folder / "cases.json")], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=3600, check=False)
    if done.returncode:
        raise RuntimeError(f"the checking process failed: {done.stderr[-2000:]}")
    rows = json.loads(done.stdout)
    return cases, rows, max((float(r["peak_rss_mib"]) for r in rows), default=0.0)


def violations(rows: list[dict], folder: Path) -> list[str]:
    """What the suite must not see: a payload that ran (a marker file) or was not refused, an
    exception that is not a restora error, a crash, an error that does not name the file on
    one line, a file of 10 MB or more, a load above 1 GiB peak RSS."""
    found = [f"payload ran: {m.name}" for m in (folder / "markers").iterdir()]
    for row in rows:
        tag = f"{row['family']}/{row['name']}"
        if row["outcome"] in ("escaped", "crashed"):
            found.append(f"{tag}: {row['outcome']} {row.get('error')}: {row.get('message', '')}")
        if row["payload"] and row["outcome"] != "refused":
            found.append(f"{tag}: a pickle payload was not refused")
        if row["outcome"] == "refused" and not (row["names_file"] and row["one_line"]):
            found.append(f"{tag}: message not one line naming the file: {row['message']}")
        if Path(row["path"]).stat().st_size >= 10 << 20:
            found.append(f"{tag}: file of 10 MB or more")
        if row["peak_rss_mib"] >= 1024:
            found.append(f"{tag}: peak RSS {row['peak_rss_mib']} MiB")
    return found


def main() -> int:
    """``python -m tests.models.crafted_weights FOLDER [SEED]``: the whole suite, a summary."""
    import sys
    from collections import Counter

    if sys.argv[1:2] == ["--check"]:
        _child()
        return 0
    folder, seed = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0
    cases, rows, peak = run_suite(folder, seed)
    print(f"{len(cases)} files (largest {max(c.path.stat().st_size for c in cases)} bytes), "
          f"seed {seed}")
    for (family, outcome), n in sorted(Counter((r["family"], r["outcome"]) for r in rows).items()):
        print(f"  {family:12s} {outcome:8s} {n}")
    top = max(rows, key=lambda r: r["peak_rss_mib"])
    print(f"payload markers: {len(list((folder / 'markers').iterdir()))}; peak RSS of one load: "
          f"{top['peak_rss_mib']} MiB ({top['family']}/{top['name']}); checking process: "
          f"{peak:.0f} MiB")
    bad = violations(rows, folder)
    for line in bad:
        print("VIOLATION", line)
    print(f"violations: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
