"""Registry behaviour: duplicates, unknown names/options, channel checks, sigma estimation."""

from __future__ import annotations

import numpy as np
import pytest

from restora.errors import (
    DuplicateMethodError,
    InvalidParameterError,
    ShapeError,
    UnknownMethodError,
)
from restora.methods import get_method, list_methods
from restora.methods.registry import (
    REGISTRY,
    MethodInfo,
    MethodRegistry,
    register_method,
    run_method,
)


def _probe_registry() -> tuple[MethodRegistry, list[dict]]:
    """A private registry holding one sigma-needing probe that records what it was given."""
    reg = MethodRegistry()
    seen: list[dict] = []

    def probe(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
        seen.append({"sigma": sigma})
        return image

    reg.add(
        MethodInfo(
            name="probe",
            task="denoise",
            fn=probe,
            description="probe",
            needs_sigma=True,
            options=("sigma",),
        )
    )
    return reg, seen


def test_builtin_classical_methods_are_registered_in_order():
    names = [m.name for m in list_methods()]
    expected = ["nlm", "tv", "wavelet", "bm3d", "bicubic", "lanczos", "wiener", "richardson_lucy"]
    assert [n for n in names if n in expected] == expected
    assert [m.name for m in list_methods("deblur", "*")][:2] == ["wiener", "richardson_lucy"]
    for name in expected:
        info = get_method(name)
        assert info.description and (info.citation or name in ("lanczos",))


def test_duplicate_name_raises():
    reg, _ = _probe_registry()
    again = MethodInfo(name="probe", task="denoise", fn=lambda im: im, description="again")
    with pytest.raises(DuplicateMethodError, match="'probe' is already registered"):
        reg.add(again)
    with pytest.raises(DuplicateMethodError, match="'nlm'"):
        register_method("nlm", task="denoise", description="x", registry=REGISTRY)(lambda im: im)


def test_unknown_method_lists_known_names():
    with pytest.raises(UnknownMethodError) as err:
        get_method("nlmeans")
    msg = str(err.value)
    assert "'nlmeans'" in msg and "nlm" in msg and "bicubic" in msg and "wiener" in msg


def test_unknown_option_names_it_and_the_accepted_ones():
    img = np.full((8, 8, 1), 0.5, np.float32)
    with pytest.raises(InvalidParameterError) as err:
        get_method("nlm")(img, sigma=5, scale=2)
    assert "'nlm' does not take option(s) scale" in str(err.value)
    assert "it takes: sigma" in str(err.value)


def test_wrong_channel_count_message():
    img = np.zeros((8, 8, 4), np.float32)
    with pytest.raises(ShapeError, match=r"C in \(1, 3\); got shape \(8, 8, 4\)"):
        get_method("tv")(img, sigma=5)
    with pytest.raises(ShapeError, match=r"got shape \(8, 8\)"):
        get_method("tv")(np.zeros((8, 8), np.float32), sigma=5)


def test_scale_outside_supported_factors_raises():
    img = np.full((4, 4, 3), 0.5, np.float32)
    with pytest.raises(InvalidParameterError, match=r"'bicubic' supports scale .*got 9"):
        get_method("bicubic")(img, scale=9)


def test_sigma_is_estimated_when_omitted_and_passed_when_given(astronaut):
    from restora.estimate import estimate_sigma

    reg, seen = _probe_registry()
    rng = np.random.default_rng(0)
    noisy = astronaut[:128, :128] + rng.standard_normal((128, 128, 3)).astype(np.float32) * 20 / 255
    run_method(reg.get("probe"), noisy)
    assert seen[-1]["sigma"] == pytest.approx(estimate_sigma(noisy))
    assert seen[-1]["sigma"] == pytest.approx(20, abs=1.5)
    run_method(reg.get("probe"), noisy, sigma=7.0)
    assert seen[-1]["sigma"] == 7.0
    with pytest.raises(InvalidParameterError, match="does not take option.s. tile"):
        run_method(reg.get("probe"), noisy, sigma=7.0, tile=64)  # execution is the runner's


def test_registry_estimates_sigma_for_builtin_denoiser(monkeypatch, camera):
    import restora.methods.registry as registry

    calls = []
    monkeypatch.setattr(registry, "estimate_sigma", lambda im: calls.append(im.shape) or 12.5)
    out = get_method("wavelet")(camera[:64, :64])
    assert calls == [(64, 64, 1)]
    assert out.shape == (64, 64, 1)
