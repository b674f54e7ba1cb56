"""Solvers of inverse problems ``y = A x + n`` with a denoiser as the prior.

Each solver takes the observation, a forward model (a
:class:`~restora.degrade.operators.LinearOperator`, see
:func:`~restora.degrade.operators.task_operator`) and a denoiser ``D(x, sigma)`` on NCHW
tensors with ``sigma`` in [0, 1] units (:data:`restora.models.inference.Denoise`: a network
through :meth:`~restora.models.inference.InferenceRunner.as_denoiser`, a classical method
through :func:`restora.methods.denoisers.as_denoiser`, or any such callable):

* :mod:`restora.solvers.pnp`: plug-and-play half-quadratic splitting (DPIR);
* :mod:`restora.solvers.diffusion`: EDM sampling, DiffPIR and DPS.

The registered methods ``pnp``, ``diffpir`` and ``dps`` (:mod:`restora.methods`) are thin
adapters over these.
"""
