"""Image quality metrics measured the way the restoration papers measure them.

Full-reference: :func:`psnr`, :func:`ssim` (HWC/HW float in [0, 1], uint8 or uint16; float64
on the [0, 255] scale; SSIM with the 11x11 Gaussian window, sigma 1.5, 'valid' filtering,
as Wang et al.'s MATLAB code and BasicSR ``calculate_ssim`` do). No-reference: :func:`niqe`
(Mittal et al. 2013, as the official MATLAB code and BasicSR 1.4.2 compute it).

What needs external files
-------------------------
PSNR and SSIM need nothing. NIQE needs its pristine model (``niqe_pris_params.npz``, the
authors' data; ``params=`` or ``$RESTORA_NIQE_PARAMS``, see :mod:`restora.metrics.niqe`).
Learned perceptual distances (LPIPS, DISTS) need ImageNet-trained backbone weights
(AlexNet/VGG) plus their calibration layers; restora neither bundles nor downloads those,
so it reports none. Every perceptual comparison in ``docs/benchmarks.md`` therefore uses
NIQE (lower = more natural) beside PSNR/SSIM.

Named protocols
---------------
A score only means something next to the protocol it was measured with.
``get_protocol(name, task=..., scale=...)`` returns a :class:`Protocol`, and
``evaluate_pair(reference, test, protocol)`` applies it. Tasks: ``denoise``, ``deblock``,
``deblur``, ``upscale``.

``"paper"``: the de facto protocol of BasicSR and KAIR (the code behind most published tables).
    * denoise / deblock / deblur: all channels (RGB, or gray as it is), no border cropped.
    * upscale xS: the Y channel of MATLAB ``rgb2ycbcr`` (ITU-R BT.601, studio swing, Y in
      [16, 235]) as floats, not rounded; S pixels cropped from each edge.
``"matlab"``: the same as ``"paper"``, except that for upscale Y*255 is rounded to integers.
    MATLAB's ``rgb2ycbcr`` does this on uint8 input, as in the MATLAB evaluation scripts of
    the older SR papers (SRCNN, VDSR, EDSR's ``evaluate.m``). On MATLAB-bicubic Set5/Set14
    x2-x4 it gives 0.004-0.034 dB lower PSNR than ``"paper"``.
``"rgb"``: all channels for every task, with no Y conversion. S pixels are cropped for
    upscale xS, 0 otherwise.

Gray images are their own Y, so ``"paper"`` and ``"rgb"`` agree on gray upscale results.
PSNR is ``10 log10(255^2 / MSE)``, where the MSE is averaged over every pixel and channel;
it is ``inf`` for identical images. SSIM is averaged over its map per channel, then over
channels.
"""

from __future__ import annotations

from restora.metrics.full_reference import psnr, ssim
from restora.metrics.niqe import niqe
from restora.metrics.protocols import (
    PROTOCOLS,
    TASKS,
    MetricResult,
    Protocol,
    evaluate_pair,
    get_protocol,
    mean_results,
)

__all__ = [
    "PROTOCOLS",
    "TASKS",
    "MetricResult",
    "Protocol",
    "evaluate_pair",
    "get_protocol",
    "mean_results",
    "niqe",
    "psnr",
    "ssim",
]
