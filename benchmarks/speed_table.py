"""CPU speed and quality in one table from one run, and big photos end to end.

``table``: one 2-megapixel RGB image (1632x1224: the ``sun_hays80`` photo ``abbey`` resized
with Pillow bicubic, plus Gaussian noise sigma 25, seed 0), 2 CPU threads (torch, OpenCV,
ONNX Runtime, OpenVINO), best of ``--repeat`` interleaved rounds; the rows:

* restora's default colour denoiser ``denoise_color`` (DRUNet) through ``restora.restore``
  with ``--precision auto`` and ``--backend auto`` (the precision and engine they resolve to
  on this CPU are printed), with ``--batch 4``, with ``--precision fp32``, and through the
  same tiles (restora's automatic tile and overlap) with torch's runner in fp32 without
  channels-last (the CPU default before), in bf16 autocast (channels-last), with
  ``torch.compile`` (inductor), and ONNX Runtime and OpenVINO fp32 from the file ``restora
  export --format onnx`` writes;
* the official FFDNet colour and blind CDnCNN weights (KAIR's ``ffdnet_color.pth`` and
  ``dncnn_color_blind.pth`` in ``../shared/weights/kair``, loaded by restora's loader from
  there) through ``restora.restore(model=PATH, precision="fp32")`` with torch, as the authors
  run them (the reference of the ratios), and FFDNet also with restora's ``--backend auto``;
* OpenCV non-local means (restora's ``nlm``: ``cv2.fastNlMeansDenoising``) and CBM3D
  (restora's ``bm3d``: the ``bm3d`` package, extra ``bm3d``).

PSNR: CBSD68, sigma 25, all 68 images, the paper protocol (``restora.bench.evaluate``,
whole images, as ``restora eval``). Rows that compute the same function as the fp32
network (other memory layout or backend) give the largest |difference| from it on the 2 MP
image instead; the bf16 PSNR comes from ``benchmarks/cpu_precision.py`` (run it first).

``big``: a 24-megapixel (6000x4000) and a 100-megapixel (10000x10000) colour JPEG (a smooth
synthetic scene plus noise sigma 15, quality 95, made here) through ``restora restore IN -o
OUT.jpg --task denoise --threads 2`` in a subprocess: wall time and peak resident memory
(``/usr/bin/time -v``).

    .venv/bin/python benchmarks/speed_table.py                         # everything (hours on 2 shared cores)
    .venv/bin/python benchmarks/speed_table.py --parts table --skip-psnr --repeat 1   # timings only
    .venv/bin/python benchmarks/speed_table.py --parts table --skip-psnr --skip-rows CBM3D compile
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "datasets"
KAIR = SHARED / "weights" / "kair"
SIGMA = 25.0
THREADS = 2
SIZE = (1632, 1224)  # 2.00 MP, a multiple of 8 both ways


def interleaved_best(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best wall time (s) of each run over ``repeat`` rounds that take the runs in turn, so a
    shared host's slow spells fall on every row alike (the caller warms them up first)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def two_megapixel_image(size: tuple[int, int] = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) HWC float32: abbey (sun_hays80) resized to 1632x1224, AWGN sigma 25."""
    from PIL import Image

    path = next((DATA / "sun_hays80").glob("abbey*.jpg"))
    clean = np.asarray(Image.open(path).convert("RGB").resize(size, Image.BICUBIC), np.float32) / 255
    noise = np.random.default_rng(0).normal(0, SIGMA / 255, clean.shape).astype(np.float32)
    return clean, clean + noise


def _tiling(model, image: np.ndarray) -> dict:
    """restora's automatic tile and overlap for this network and image (Restorer._tiling)."""
    from restora.models.inference import InferenceRunner
    from restora.options import DEFAULT_OVERLAP

    overlap = max(DEFAULT_OVERLAP, 4 * model.halo)
    runner = InferenceRunner(model, device="cpu")
    tile = runner.tile_for(image.shape[0], image.shape[1], overlap=overlap)
    return {"tile": tile, "overlap": overlap, "multiple": model.size_multiple}


def _best_square(model, image: np.ndarray) -> int:
    """The least-work square tile side up to 1024 (the automatic tile before rectangles)."""
    from restora.pipeline import tile_grid

    tiling = _tiling(model, image)
    h, w = image.shape[:2]

    def work(side: int) -> int:
        rows, cols, th, tw = tile_grid(h, w, tile=side, overlap=tiling["overlap"],
                                       multiple=tiling["multiple"])
        return len(rows) * len(cols) * th * tw

    sides = [s for s in range(1024, 2 * tiling["overlap"], -1) if s % tiling["multiple"] == 0]
    return min(sides, key=lambda s: (work(s), -s))


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class Row:
    def __init__(self, name: str, run, *, psnr=None, note: str = "", once: bool = False) -> None:
        self.name, self.run, self.psnr, self.note, self.once = name, run, psnr, note, once
        self.best = math.inf
        self.output: np.ndarray | None = None
        self.error: str | None = None


def _backends(model, noisy: np.ndarray, folder: Path) -> list[Row]:
    """Rows that run the default denoiser's network through restora's tiles by other means."""
    import torch

    from restora.models.export import write_onnx
    from restora.models.inference import InferenceRunner, cpu_bf16_supported
    from restora.pipeline import run_tiled

    tiling = _tiling(model, noisy)
    sig = np.full((1,), SIGMA, np.float32)

    def tiles(fn):
        return lambda: np.clip(run_tiled(fn, noisy, **tiling), 0, 1)

    rows = []
    plain = InferenceRunner(model, device="cpu", precision="fp32", channels_last=False, threads=THREADS)
    rows.append(Row("restora `denoise_color`, torch fp32, contiguous (the CPU default before)",
                    tiles(lambda t: plain(t, sigma=SIGMA)), psnr="fp32"))
    bf16 = InferenceRunner(model, device="cpu", precision="bf16", channels_last=True, threads=THREADS)
    native = cpu_bf16_supported()
    rows.append(Row("restora `denoise_color`, torch bf16 autocast + channels-last (runner)",
                    tiles(lambda t: bf16(t, sigma=SIGMA)), psnr="bf16", once=not native,
                    note="" if native else "bf16 is emulated on this CPU (no AMX / AVX512-BF16)"))

    net = torch.compile(model.model.eval().to(memory_format=torch.channels_last))

    def compiled(t: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(t.transpose(2, 0, 1)))[None]
        with torch.inference_mode():
            y = net(x.contiguous(memory_format=torch.channels_last), SIGMA / 255)
        return y[0].permute(1, 2, 0).numpy()

    rows.append(Row("`denoise_color`, torch.compile (inductor), fp32, channels-last",
                    tiles(compiled), psnr="same"))

    onnx_path = write_onnx(model, folder / "denoise_color.onnx")
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

        def onnx(t: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(t.transpose(2, 0, 1))[None]
            return session.run(None, {"image": x, "sigma": sig})[0][0].transpose(1, 2, 0)

        rows.append(Row(f"`denoise_color`, ONNX Runtime {ort.__version__} (CPU EP), fp32",
                        tiles(onnx), psnr="same"))
    except ImportError:
        rows.append(Row("ONNX Runtime", None, note="onnxruntime is not installed"))
    try:
        import openvino as ov

        core = ov.Core()
        ov_model = core.read_model(str(onnx_path))
        compiled_ov: dict = {}

        def openvino(t: np.ndarray) -> np.ndarray:
            shape = t.shape[:2]
            if shape not in compiled_ov:  # one static shape per tile size
                ov_model.reshape({"image": [1, 3, *shape], "sigma": [1]})
                compiled_ov[shape] = core.compile_model(
                    ov_model, "CPU", {"INFERENCE_NUM_THREADS": THREADS, "INFERENCE_PRECISION_HINT": "f32"})
            x = np.ascontiguousarray(t.transpose(2, 0, 1))[None]
            out = compiled_ov[shape]({"image": x, "sigma": sig})
            return next(iter(out.values()))[0].transpose(1, 2, 0)

        rows.append(Row(f"`denoise_color`, OpenVINO {ov.__version__.split('-')[0]} (CPU), fp32",
                        tiles(openvino), psnr="same"))
    except ImportError:
        rows.append(Row("OpenVINO", None, note="`openvino` is not installed (pip install openvino)"))
    return rows


def table(args: argparse.Namespace, folder: Path) -> dict:
    import cv2
    import torch

    import restora
    from restora.bench import evaluate
    from restora.models import load_model
    from restora.models.inference import InferenceRunner, cpu_bf16_supported
    from restora.weights import find_card

    torch.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    _, noisy = two_megapixel_image(tuple(args.size))
    mp = noisy.shape[0] * noisy.shape[1] / 1e6
    model = load_model(find_card("denoise_color").path)
    runner = InferenceRunner(model, device="cpu", backend="auto")
    auto = runner.precision
    fp32_engine = InferenceRunner(model, device="cpu", precision="fp32", backend="auto").backend
    common = {"sigma": SIGMA, "device": "cpu", "threads": THREADS}
    square = _best_square(model, noisy)
    rows = [Row(f"restora `denoise_color`, `--precision auto` (here: {auto}, {runner.backend})",
                lambda: restora.restore(noisy, task="denoise", **common), psnr="auto"),
            Row(f"restora `denoise_color`, auto, square {square} px tiles (the automatic tile "
                "before session 8)",
                lambda: restora.restore(noisy, task="denoise", tile=square, **common), psnr="same"),
            Row("restora `denoise_color`, auto, the whole image as one tile (`--tile 0`)",
                lambda: restora.restore(noisy, task="denoise", tile=0, **common), psnr="same"),
            Row("restora `denoise_color`, auto, `--batch 4` (tiles batched)",
                lambda: restora.restore(noisy, task="denoise", batch=4, **common), psnr="same"),
            Row(f"restora `denoise_color`, `--precision fp32` (`--backend auto`: {fp32_engine})",
                lambda: restora.restore(noisy, task="denoise", precision="fp32", **common),
                psnr="fp32")]
    rows += _backends(model, noisy, folder)
    for label, file, sigma, backend in (
            ("FFDNet colour (official KAIR weights), torch fp32 as published", "ffdnet_color.pth", SIGMA, "torch"),
            ("FFDNet colour (official KAIR weights), restora `--precision fp32` (`--backend auto`)",
             "ffdnet_color.pth", SIGMA, "auto"),
            ("CDnCNN-B (official KAIR weights, blind), torch fp32", "dncnn_color_blind.pth", None, "torch")):
        if (KAIR / file).is_file():
            rows.append(Row(label, lambda f=file, s=sigma, b=backend: restora.restore(
                noisy, model=KAIR / f, sigma=s, device="cpu", threads=THREADS, precision="fp32",
                backend=b), psnr=("model", KAIR / file, sigma)))
        else:
            rows.append(Row(label, None, note=f"{KAIR / file} not found"))
    rows.append(Row("OpenCV NLM (restora `nlm`)", lambda: restora.restore(
        noisy, task="denoise", method="nlm", sigma=SIGMA, threads=THREADS), psnr=("method", "nlm")))
    try:
        from importlib.metadata import version

        import bm3d  # noqa: F401  (the extra is there)

        rows.append(Row(f"CBM3D (`bm3d` {version('bm3d')}, restora `bm3d`)",
                        lambda: restora.restore(noisy, task="denoise", method="bm3d", sigma=SIGMA,
                                                threads=THREADS),
                        psnr=("method", "bm3d"), once=True))
    except ImportError:
        rows.append(Row("CBM3D", None, note="the `bm3d` extra is not installed"))

    rows = [r for r in rows if not any(word.lower() in r.name.lower() for word in args.skip_rows)]
    print(f"# 2 MP image {noisy.shape[1]}x{noisy.shape[0]}, {THREADS} threads, torch {torch.__version__}, "
          f"cpu bf16 native: {cpu_bf16_supported()}, auto resolves to {auto}", flush=True)
    for row in rows:  # the first call of each: warm-up (and torch.compile's compile time)
        if row.run is None:
            continue
        try:
            seconds, out = _timed(row.run)
        except Exception as exc:  # noqa: BLE001  (a backend that fails is reported, not fatal)
            row.error = f"{type(exc).__name__}: {exc}"[:200]
            print(f"{row.name}: failed: {row.error}", flush=True)
            continue
        row.output = np.asarray(out)
        row.first = seconds
        if row.once:
            row.best = seconds
        print(f"{row.name}: first call {seconds:.1f} s", flush=True)
    for _ in range(args.repeat):
        for row in rows:
            if row.run is None or row.error or row.once:
                continue
            seconds, _ = _timed(row.run)
            row.best = min(row.best, seconds)
            print(f"{row.name}: {seconds:.1f} s", flush=True)

    reference = rows[0].output
    psnr: dict[str, float] = {}
    if not args.skip_psnr:
        cbsd68 = DATA / "cbsd68"
        psnr["auto"] = evaluate(None, cbsd68, task="denoise", sigma=SIGMA, device="cpu",
                                threads=THREADS).mean_psnr
        print(f"PSNR auto {psnr['auto']:.3f}", flush=True)
    precision_log = REPO / "runs" / "bench" / "cpu_precision.json"
    if precision_log.is_file():
        sets = json.loads(precision_log.read_text()).get("denoise_color", {}).get("sets", {})
        if "cbsd68 s25" in sets:
            psnr["fp32"], psnr["bf16"] = sets["cbsd68 s25"]["fp32"], sets["cbsd68 s25"]["bf16"]

    result = []
    for row in rows:
        cell = "-"
        if row.output is not None and reference is not None and row.psnr in ("same", "fp32"):
            diff = float(np.abs(row.output - reference).max())
            cell = f"= auto (max abs diff {diff:.1e})"
        elif row.psnr == "auto" and "auto" in psnr:
            cell = f"{psnr['auto']:.2f}"
        elif row.psnr == "bf16" and "bf16" in psnr:
            cell = f"{psnr['bf16']:.2f} (fp32 {psnr['fp32']:.2f}, cpu_precision.py)"
        elif isinstance(row.psnr, tuple) and not args.skip_psnr and row.run is not None and not row.error:
            kind, what = row.psnr[:2]
            value = (evaluate(what, DATA / "cbsd68", task="denoise", sigma=SIGMA, threads=THREADS)
                     if kind == "method" else
                     evaluate(None, DATA / "cbsd68", model=what, sigma=SIGMA, device="cpu",
                              threads=THREADS)).mean_psnr
            cell = f"{value:.2f}"
            print(f"PSNR {row.name} {value:.3f}", flush=True)
        seconds = row.best if math.isfinite(row.best) else None
        first = getattr(row, "first", None)
        note = row.note or ("" if row.error is None else f"failed: {row.error}")
        if first is not None and "compile" in row.name:
            note = f"first call (compiling) {first:.0f} s"
        result.append({"method": row.name, "seconds": seconds,
                       "s_per_mp": None if seconds is None else seconds / mp, "psnr": cell, "note": note})
    base = result[0]["seconds"]
    ffdnet = next((r["seconds"] for r in result if "as published" in r["method"]), None)
    print("\n| method | s / MP (2 MP image) | time / auto's | time / FFDNet torch fp32's | "
          "CBSD68 sigma 25 PSNR (dB) | note |\n|---|---:|---:|---:|---|---|")
    for r in result:
        sec = "-" if r["seconds"] is None else f"{r['s_per_mp']:.2f}"
        ratio = "-" if r["seconds"] is None or base is None else f"{r['seconds'] / base:.2f}x"
        vs = "-" if r["seconds"] is None or ffdnet is None else f"{r['seconds'] / ffdnet:.2f}"
        print(f"| {r['method']} | {sec} | {ratio} | {vs} | {r['psnr']} | {r['note']} |")
    return {"rows": result, "auto": auto, "megapixels": mp}


def _photo(path: Path, width: int, height: int) -> Path:
    """A smooth synthetic colour scene + noise sigma 15, JPEG quality 95, built by rows."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = np.empty((height, width, 3), np.uint8)
    x = np.linspace(0, 40, width, dtype=np.float32)[None]
    for y0 in range(0, height, 500):
        y = np.linspace(0, 30, height, dtype=np.float32)[y0 : y0 + 500, None]
        base = 0.5 + 0.3 * np.sin(x + np.sin(y)) * np.cos(0.7 * y)
        img = np.stack([base, 0.5 + 0.25 * np.cos(0.5 * x + y), 0.5 + 0.2 * np.sin(1.3 * y) + 0 * x], -1)
        img += rng.normal(0, 15 / 255, img.shape).astype(np.float32)
        out[y0 : y0 + 500] = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    Image.fromarray(out).save(path, quality=95)
    return path


def big(args: argparse.Namespace, folder: Path) -> dict:
    results = {}
    for label, (w, h) in (("24 MP", (6000, 4000)), ("100 MP", (10000, 10000))):
        if label not in args.big:
            continue
        src = _photo(folder / f"photo_{w}x{h}.jpg", w, h)
        out = folder / f"out_{w}x{h}.jpg"
        cmd = ["/usr/bin/time", "-v", str(REPO / ".venv" / "bin" / "restora"), "restore", str(src),
               "-o", str(out), "--task", "denoise", "--threads", str(THREADS), "--overwrite",
               "--backend", args.big_backend]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        gib = int(rss.group(1)) / 2**20 if rss else math.nan
        results[label] = {"megapixels": w * h / 1e6, "seconds": wall, "peak_rss_gib": gib,
                          "returncode": proc.returncode}
        print(f"{label} ({w}x{h}): {wall:.0f} s ({wall / (w * h / 1e6):.2f} s/MP), peak RSS "
              f"{gib:.2f} GiB, exit {proc.returncode}", flush=True)
        if proc.returncode:
            print(proc.stderr[-2000:], file=sys.stderr)
        src.unlink()
        out.unlink(missing_ok=True)
    print("\n| photo | `restora restore --task denoise`, wall | s / MP | peak RSS |\n|---|---:|---:|---:|")
    for label, r in results.items():
        print(f"| {label} | {r['seconds']:.0f} s | {r['seconds'] / r['megapixels']:.2f} | "
              f"{r['peak_rss_gib']:.2f} GiB |")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="*", default=["table", "big"], choices=("table", "big"))
    parser.add_argument("--big-backend", default="auto", help="--backend of the big-photo runs")
    parser.add_argument("--big", nargs="*", default=["24 MP", "100 MP"], choices=("24 MP", "100 MP"))
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds after the first call")
    parser.add_argument("--skip-psnr", action="store_true", help="timings only")
    parser.add_argument("--skip-rows", nargs="*", default=[], metavar="WORD",
                        help="leave out the rows whose name contains one of these words (e.g. CBM3D)")
    parser.add_argument("--size", type=int, nargs=2, default=list(SIZE), metavar=("W", "H"),
                        help="the timed image (smoke runs)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench" / "speed_table.json")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs {DATA}", file=sys.stderr)
        return 2
    log = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "table" in args.parts:
            log["table"] = table(args, Path(tmp))
        if "big" in args.parts:
            log["big"] = big(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(log, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
