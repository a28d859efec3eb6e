"""The README's main job: the demo trains to a learned accuracy (far above the 10% of chance) on
a reduced setting, for both of its models, and writes its loss curve."""

import importlib.util
import os

import pytest

DEMO = os.path.join(os.path.dirname(__file__), "..", "examples", "demo.py")


def load_demo():
    spec = importlib.util.spec_from_file_location("rgrad_demo", DEMO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_demo_learns(model, tmp_path):
    plot = tmp_path / "loss.png"
    acc = load_demo().main(["--model", model, "--epochs", "3", "--plot", str(plot)])
    assert acc > 0.85
    pytest.importorskip("matplotlib")
    assert plot.stat().st_size > 0
