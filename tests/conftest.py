"""Session setup. ``RGRAD_TEST_DEVICE=gpu`` runs the suites with the GPU as rgrad's default
device (``rgrad.set_default_device``), so every tensor a test builds through a factory function
(``tensor``, ``zeros``, ``randn``, ``nn.Linear``'s parameters, ...) lives on the GPU.

Tests that cannot run there carry ``@pytest.mark.cpu_only(reason=...)``; under the GPU pass
they are skipped with ``cpu_only: <reason>``. Cases parametrised with the float64 dtype are
marked the same way here (``float64 is not supported on the GPU``: rgrad's wgpu backend refuses
float64, as torch's MPS backend does).

Known GPU bugs carry ``@pytest.mark.gpu_bug(reason=..., **params)``: under the GPU pass the
test (or only its parametrised cases whose parameters take the given values; a tuple lists
several) is an ``xfail(strict=True)``, so a fix shows up as an XPASS failure and the marker
must then go."""

import os
import sys

import pytest

# Tests import the installed rgrad (with its compiled _C); this directory holds the helpers.
sys.path.insert(0, os.path.dirname(__file__))

import rgrad  # noqa: E402

TEST_DEVICE = os.environ.get("RGRAD_TEST_DEVICE", "cpu").strip().lower() or "cpu"
if TEST_DEVICE in ("cuda", "wgpu"):
    TEST_DEVICE = "gpu"
if TEST_DEVICE not in ("cpu", "gpu"):
    raise pytest.UsageError(f"RGRAD_TEST_DEVICE must be 'cpu' or 'gpu', not {TEST_DEVICE!r}")
from helpers import FLOAT64_REASON, ON_GPU  # noqa: E402  (helpers reads RGRAD_TEST_DEVICE the same way)

assert ON_GPU == (TEST_DEVICE == "gpu")

_NO_ADAPTER = None
if ON_GPU:
    from gpu_helpers import GPU_AVAILABLE, REQUIRE_GPU

    if not GPU_AVAILABLE:
        if REQUIRE_GPU:
            raise pytest.UsageError("RGRAD_TEST_DEVICE=gpu with RGRAD_REQUIRE_GPU=1, but rgrad found no GPU adapter")
        _NO_ADAPTER = "RGRAD_TEST_DEVICE=gpu but no GPU adapter (set RGRAD_REQUIRE_GPU=1 to make this an error)"
    else:
        # Before collection, so tensors built at import time of a test module are on the GPU too.
        rgrad.set_default_device("gpu")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cpu_only(reason): the test checks something that only exists on the CPU device; "
                   "skipped (with the reason) under RGRAD_TEST_DEVICE=gpu")
    config.addinivalue_line(
        "markers", "gpu_bug(reason, **params): a known GPU bug; xfail(strict=True) under RGRAD_TEST_DEVICE=gpu "
                   "(only for the parametrised cases matching params, when given)")


def _matches(params, want):
    return all(k in params and any(params[k] == v for v in (w if isinstance(w, tuple) else (w,)))
               for k, w in want.items())


def _is_float64(v):
    """A float64 dtype (name, rgrad or torch dtype), or a dict of keyword arguments holding one."""
    if isinstance(v, dict):
        return any(_is_float64(x) for x in v.values())
    return (isinstance(v, str) and v == "float64") or v is rgrad.float64 or \
        (type(v).__name__ == "dtype" and str(v) == "torch.float64")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in ("cpu_only", "gpu_bug"):
            for m in item.iter_markers(name):
                if not (m.kwargs.get("reason") or (name == "cpu_only" and m.args)):
                    raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name} needs a reason=")
        if not ON_GPU:
            continue
        if _NO_ADAPTER:
            item.add_marker(pytest.mark.skip(reason=_NO_ADAPTER))
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        for m in item.iter_markers("gpu_bug"):
            want = {k: v for k, v in m.kwargs.items() if k != "reason"}
            if _matches(params, want):
                item.add_marker(pytest.mark.xfail(strict=True, reason="GPU bug: " + m.kwargs["reason"]))
        if any(_is_float64(v) for v in params.values()):
            item.add_marker(pytest.mark.cpu_only(reason=FLOAT64_REASON))
        m = item.get_closest_marker("cpu_only")
        if m is not None:
            item.add_marker(pytest.mark.skip(reason="cpu_only: " + (m.kwargs.get("reason") or m.args[0])))


@pytest.fixture(autouse=True)
def _default_device():
    """Every test starts on the session's device, whatever the previous test set."""
    if ON_GPU and not _NO_ADAPTER:
        rgrad.set_default_device("gpu")
    else:
        rgrad.set_default_device(None)
    yield
