"""foveal.nn models against Keras 3: weights carried over give the same predictions, and training
steps (batch-norm, losses, optimizers) give the same losses and weights.

* Recorded parity (always runs, no Keras needed): tests/fixtures/keras_nn.npz, written by
  tests/fixtures/make_keras_fixtures.py.
* Live parity (only where Keras 3 is importable, with the torch backend): the same cases with
  fresh random weights.
"""
import json
import os

import numpy as np
import pytest

import foveal.nn as nn
from fixtures import make_keras_fixtures as mkf

try:
    FIX = np.load(mkf.FIXTURE)
    META = json.loads(str(FIX["meta"]))
except FileNotFoundError:  # reported by test_fixture_present
    FIX, META = None, None

CASES = {c["name"]: c for c in mkf.CASES}


def _arrays(name):
    prefix = name + mkf.SEP
    return {k[len(prefix):]: FIX[k] for k in FIX.files if k.startswith(prefix)}


def _numbered(arrays, key):
    return [arrays[k] for k in sorted(a for a in arrays if a.startswith(key) and a[len(key):].isdigit())]


def _foveal_optimizer(spec):
    return getattr(nn.optimizers, spec[0])(**spec[1])


def _foveal_loss(spec):
    return getattr(nn.losses, spec[0])(**spec[1])


def check_case(case, ref):
    """Run ``case`` in foveal with the reference's inputs and compare with its outputs."""
    if case["kind"] == "optimizer":
        opt = _foveal_optimizer(case["optimizer"])
        w = nn.layers.Weight("w", "w", ref["w0"].copy())
        for step, g in enumerate(ref["grads"]):
            opt.apply_gradients([(g, w)])
            np.testing.assert_allclose(w.value, ref["trajectory"][step], rtol=0, atol=2e-6,
                                       err_msg=f"{case['name']} step {step}")
        assert opt.iterations == len(ref["grads"])
        return
    model = mkf.build(nn, case["graph"])
    weights = _numbered(ref, "w")
    assert [w.shape for w in model.get_weights()] == [w.shape for w in weights]
    model.set_weights(weights)
    if case["kind"] == "predict":
        out = model.predict(ref["x"], verbose=0)
        assert out.dtype == np.float32 and out.shape == ref["out"].shape
        np.testing.assert_allclose(out, ref["out"], rtol=0, atol=2e-6, err_msg=case["name"])
        return
    model.compile(optimizer=_foveal_optimizer(case["optimizer"]), loss=_foveal_loss(case["loss"]))
    losses = [model.train_on_batch(ref["x"], ref["y"]) for _ in range(len(ref["losses"]))]
    np.testing.assert_allclose(losses, ref["losses"], rtol=2e-5, atol=2e-6, err_msg=case["name"])
    for got, want, w in zip(model.get_weights(), _numbered(ref, "final"), model.weights):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=f"{case['name']}: {w.path}")


def test_fixture_present():
    assert META is not None, (f"{mkf.FIXTURE} is missing: run "
                              "`KERAS_BACKEND=torch python tests/fixtures/make_keras_fixtures.py`")
    assert META["cases"] == [c["name"] for c in mkf.CASES], "fixture out of date: re-record it"
    assert os.path.getsize(mkf.FIXTURE) < 400_000


@pytest.mark.parametrize("name", [c["name"] for c in mkf.CASES])
def test_recorded_keras_parity(name):
    if FIX is None:
        pytest.fail("fixture missing (see test_fixture_present)")
    check_case(CASES[name], _arrays(name))


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception as e:  # ImportError, or Keras failing to find its backend
        pytest.skip(f"keras is not importable here ({type(e).__name__}: {e})")
    if keras.backend.backend() != "torch" or not keras.__version__.startswith("3."):
        pytest.skip(f"live parity needs Keras 3 on the torch backend, got {keras.__version__} on "
                    f"{keras.backend.backend()}")
    return keras


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
@pytest.mark.parametrize("name", ["predict_cnn", "predict_residual", "train_adam_logits",
                                  "train_sgd_momentum_cce", "opt_rmsprop_momentum_centered"])
def test_live_keras_parity(name):
    _keras()
    case = dict(CASES[name], seed=CASES[name]["seed"] + 100)
    check_case(case, mkf.keras_reference(case))
