"""Loaded networks as registry methods: every weight file becomes a method.

``method_from_model(descriptor)`` wraps a :class:`~restora.models.ModelDescriptor` in a
:class:`~restora.methods.registry.MethodInfo`, so ``restora restore --model PATH`` and
``restora eval --model PATH`` run it through the same tiling and evaluation as any method.
It is not added to the global registry (a loaded file is the caller's, not the package's).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from restora.errors import InvalidParameterError
from restora.methods.registry import TASKS, MethodInfo

if TYPE_CHECKING:
    from restora.models import ModelDescriptor
    from restora.models.inference import InferenceRunner

#: Receptive-field radius (pixels) per layer of the plain conv stacks: DnCNN's 3x3 convs
#: add 1 each; FFDNet's work at half resolution and add 2. Others default to 32.
_HALO_PER_LAYER = {"dncnn": 1, "ffdnet": 2}


def method_from_model(
    model: ModelDescriptor,
    *,
    task: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    channels_last: bool = False,
    ensemble: bool = False,
    threads: int | None = None,
    luma: bool = False,
) -> MethodInfo:
    """A method running ``model``; ``task`` picks the use of a multi-purpose ("restore") net.

    luma: a gray (1-channel) network also serves RGB images through their luma (see
    :class:`~restora.models.inference.InferenceRunner`).

    The method's ``fn`` is an :class:`~restora.models.inference.InferenceRunner` with the
    given execution options (see there); it also takes NHWC stacks, for batched tiling.
    Models trained for one task refuse another (e.g. a denoiser asked to upscale).
    """
    from restora.models.inference import InferenceRunner

    use = task or (model.task if model.task in TASKS else None)
    if use is None:
        raise InvalidParameterError(
            f"model {model.source.name} ({model.arch}) is a general restoration network: "
            f"say which task to use it for (--task {' | '.join(TASKS)})"
        )
    compatible = model.task in (use, "restore")
    if not compatible:
        raise InvalidParameterError(
            f"model {model.source.name} ({model.arch}) does {model.task!r}, not {use!r}"
        )
    depth = int(model.config.get("depth", 0))
    per_layer = _HALO_PER_LAYER.get(model.arch)
    halo = 32 if per_layer is None or not depth else per_layer * depth
    if model.tile_hint is None:
        halo = -1  # the network (or spandrel) advises against tiling
    runner = InferenceRunner(
        model,
        device=device,
        precision=precision,
        channels_last=channels_last,
        ensemble=ensemble,
        threads=threads,
        luma=luma,
    )
    options = (("sigma",) if model.needs_sigma else ()) + (("scale",) if use == "upscale" else ())
    return MethodInfo(
        name=f"model:{Path(model.source).name}",
        task=use,
        fn=runner,
        description=f"{model.arch} network from {Path(model.source).name}",
        channels=(1, 3) if runner.luma or model.in_channels == 3 == model.out_channels else (model.in_channels,),
        needs_sigma=model.needs_sigma,
        scales=(model.scale,) if use == "upscale" else (),
        halo=halo,
        options=options,
    )


def model_runner(info: MethodInfo) -> InferenceRunner | None:
    """The :class:`~restora.models.inference.InferenceRunner` behind a model method, else None."""
    from restora.models.inference import InferenceRunner

    return info.fn if isinstance(info.fn, InferenceRunner) else None
