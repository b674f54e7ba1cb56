"""Loaded networks as methods: every weight file becomes a method.

``method_from_model(descriptor, execution=...)`` wraps a
:class:`~restora.models.ModelDescriptor` in a :class:`~restora.methods.registry.MethodInfo`
whose ``runner`` is the one network runner
(:class:`~restora.models.inference.InferenceRunner`), so ``--model PATH`` and the shipped
defaults run through the same tiling, runner and evaluation as any method. It is not added
to the global registry (a loaded file is the caller's, not the package's).
"""

from __future__ import annotations

from pathlib import Path

from restora.errors import InvalidParameterError
from restora.methods.registry import METHOD_TASKS, MethodInfo
from restora.models.descriptor import ModelDescriptor
from restora.models.inference import InferenceRunner
from restora.options import Execution


def model_task(model: ModelDescriptor, task: str | None = None) -> str:
    """The task ``model`` runs as: ``task`` when it does it (a general "restore" network does
    any), else its own. Raises :class:`InvalidParameterError` when it does not do ``task``
    or, being general, none was named."""
    use = task or (model.task if model.task in METHOD_TASKS else None)
    if use is None:
        raise InvalidParameterError(
            f"model {model.source.name} ({model.arch}) is a general restoration network: "
            f"say which task to use it for (--task {' | '.join(METHOD_TASKS)})"
        )
    if model.task not in (use, "restore"):
        raise InvalidParameterError(
            f"model {model.source.name} ({model.arch}) does {model.task!r}, not {use!r}"
        )
    return use


def method_from_model(
    model: ModelDescriptor,
    *,
    task: str | None = None,
    execution: Execution | None = None,
    luma: bool = False,
) -> MethodInfo:
    """A method running ``model``; ``task`` picks the use of a multi-purpose ("restore") net.

    execution: device, precision, ensemble and threads of the runner (default
        :class:`~restora.options.Execution`'s). luma: a gray (1-channel) network also
        serves RGB images through their luma (see :class:`InferenceRunner`).
    Models trained for one task refuse another (e.g. a denoiser asked to upscale).
    """
    use = model_task(model, task)
    runner = InferenceRunner.for_execution(model, execution or Execution(), luma=luma)
    options = (("sigma",) if model.needs_sigma else ()) + (("scale",) if use == "upscale" else ())
    colour = runner.luma or model.in_channels == 3 == model.out_channels
    return MethodInfo(
        name=f"model:{Path(model.source).name}",
        task=use,
        fn=runner,
        description=f"{model.arch} network from {Path(model.source).name}",
        channels=(1, 3) if colour or model.in_channels == 1 == model.out_channels else (model.in_channels,),
        needs_sigma=model.needs_sigma,
        scales=(model.scale,) if use == "upscale" else (),
        halo=model.halo if model.tile_hint is not None else -1,
        options=options,
        runner=runner,
    )
