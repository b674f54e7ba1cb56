"""Degradations (noise, blur, MATLAB bicubic, JPEG) and linear operators with adjoints.

Arrays are HW or HWC floats in [0, 1]; inputs are never modified; ``sigma`` is in 8-bit
units (``sigma=25`` means a standard deviation of 25/255).
"""

from restora.degrade.blur import BLUR_BOUNDARIES, blur
from restora.degrade.camera import (
    CameraMeta,
    add_camera_noise,
    camera_pair,
    camera_pipeline,
    correlated_gaussian_noise,
    demosaic,
    inverse_smoothstep,
    low_light,
    mosaic,
    process,
    realistic_mix,
    sample_noise_levels,
    smoothstep,
    unprocess,
)
from restora.degrade.colour import colour_jitter, hue_rotation
from restora.degrade.data_steps import conjugate_gradient, data_step, make_data_step
from restora.degrade.jpeg import jpeg_compress
from restora.degrade.kernels import (
    MAX_KERNEL_SIZE,
    check_kernel,
    gaussian_kernel,
    load_kernel,
    motion_kernel,
    parse_kernel,
)
from restora.degrade.noise import add_gaussian_noise, add_poisson_gaussian_noise
from restora.degrade.operators import (
    BlurOperator,
    ComposeOperator,
    DownsampleOperator,
    LinearOperator,
    MaskOperator,
    MosaicOperator,
    ResizeOperator,
    blur_problem,
    task_operator,
)
from restora.degrade.resize import RESIZE_KERNELS, imresize, resize_matrix

__all__ = [
    "BLUR_BOUNDARIES",
    "MAX_KERNEL_SIZE",
    "RESIZE_KERNELS",
    "BlurOperator",
    "CameraMeta",
    "ComposeOperator",
    "DownsampleOperator",
    "LinearOperator",
    "MaskOperator",
    "MosaicOperator",
    "ResizeOperator",
    "add_camera_noise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "blur",
    "blur_problem",
    "camera_pair",
    "camera_pipeline",
    "check_kernel",
    "colour_jitter",
    "conjugate_gradient",
    "correlated_gaussian_noise",
    "data_step",
    "demosaic",
    "gaussian_kernel",
    "hue_rotation",
    "imresize",
    "inverse_smoothstep",
    "jpeg_compress",
    "load_kernel",
    "low_light",
    "make_data_step",
    "mosaic",
    "motion_kernel",
    "parse_kernel",
    "process",
    "realistic_mix",
    "resize_matrix",
    "sample_noise_levels",
    "smoothstep",
    "task_operator",
    "unprocess",
]
