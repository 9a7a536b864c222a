from __future__ import annotations

import importlib.metadata
from typing import Any

import numpy as np
import pytest
from tinygrad import Tensor, TinyJit, nn
from tinygrad.helpers import GlobalCounters

import aither
from aither.adapters.registry import adapter_for
from aither.adapters.tinygrad import TinygradAdapter
from aither.sampling import SampleLimits, sample
from aither.testing import SpanCapture

from ..expect import prediction_attributes, same_values, split, tensor_meta

VERSION = importlib.metadata.version("tinygrad")
LIMITS = SampleLimits()


class Net:
    """A tinygrad model as tinygrad writes them: a plain class holding layers."""

    def __init__(self) -> None:
        Tensor.manual_seed(0)
        self.layers = [nn.Linear(4, 8), nn.Linear(8, 2)]

    def __call__(self, x: Tensor) -> Tensor:
        return self.layers[1](self.layers[0](x).relu())


def data(rows: int, columns: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, columns), dtype=np.float32)


def meta(shape: list[int], truncated: bool, dtype: str = "float32", device: Any = "CPU") -> dict[str, Any]:
    return tensor_meta(
        "tinygrad.Tensor", shape, dtype, truncated=truncated, device=device, requires_grad=True
    )


def test_a_plain_model_of_tinygrad_layers_is_a_tinygrad_model(aither_capture: SpanCapture) -> None:
    net = Net()
    assert isinstance(adapter_for(net), TinygradAdapter)
    tracked = aither_capture.client.wrap(net, name="tiny")
    x = Tensor(data(7))
    out = tracked(x)
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.numpy(), net(x).numpy())
    (span,) = aither_capture.spans()
    assert span.name == "predict tiny" and span.kind == "prediction" and span.status == "UNSET"
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "tiny",
        framework="tinygrad",
        version=VERSION,
        model_class=f"{__name__}.Net",
        method="__call__",
        rows_in=7,
        rows_out=7,
        parameters=4 * 8 + 8 + 8 * 2 + 2,
    )
    assert features["_meta"] == meta([7, 4], truncated=True)
    same_values(features["sample"], data(7)[:5])
    assert prediction is not None and prediction["_meta"] == meta([7, 2], truncated=False)
    same_values(prediction["sample"], out.numpy())


def test_a_tinygrad_layer_and_a_jit_function(aither_capture: SpanCapture) -> None:
    Tensor.manual_seed(1)
    layer = nn.Linear(4, 2)
    tracked = aither_capture.client.wrap(layer, name="layer")
    x = Tensor(data(3))
    np.testing.assert_array_equal(tracked(x).numpy(), layer(x).numpy())
    assert tracked.weight is layer.weight and aither.unwrap(tracked) is layer
    jit = TinyJit(lambda t: (t * 2).realize())
    jitted = aither_capture.client.wrap(jit, name="double")
    for i in range(3):  # run, capture, replay: the wrap is outside the JIT, so every call is traced
        out = jitted(Tensor(np.full((2, 2), i, dtype=np.float32)).realize())
        assert out.numpy().tolist() == [[2.0 * i] * 2] * 2
    spans = aither_capture.spans()
    jit_class = f"{type(jit).__module__}.{type(jit).__qualname__}"  # TinyJit or its implementation class
    assert jit_class.startswith("tinygrad.engine.jit.")
    assert [s.attributes["ml.model.class"] for s in spans] == ["tinygrad.nn.Linear"] + [jit_class] * 3
    assert {s.attributes["ml.model.framework"] for s in spans} == {"tinygrad"}
    assert spans[0].attributes["ml.model.parameters"] == 10
    assert [s.attributes["ml.prediction"]["sample"] for s in spans[1:]] == [
        [[0.0, 0.0], [0.0, 0.0]],
        [[2.0, 2.0], [2.0, 2.0]],
        [[4.0, 4.0], [4.0, 4.0]],
    ]


def test_a_function_returning_tinygrad_tensors(aither_capture: SpanCapture) -> None:
    tracked = aither_capture.client.wrap(lambda t: (t + 1, t.sum()), name="fn")
    x = Tensor(data(4, 3))
    plus, total = tracked(x)
    np.testing.assert_array_equal(plus.numpy(), data(4, 3) + 1)
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs["ml.model.framework"] == "callable"
    assert features["_meta"] == meta([4, 3], truncated=False)
    assert prediction is not None and prediction["_meta"]["type"] == "tuple"
    same_values(prediction["sample"][0], plus.numpy())
    assert prediction["sample"][1] == pytest.approx(float(total.numpy()))


def test_ten_thousand_rows_give_a_bounded_sample(aither_capture: SpanCapture) -> None:
    net = Net()
    tracked = aither_capture.client.wrap(net, name="tiny")
    x = Tensor(data(10_000))
    np.testing.assert_array_equal(tracked(x).numpy(), net(x).numpy())
    (span,) = aither_capture.spans()
    _, features, prediction = split(span)
    assert features["_meta"] == meta([10_000, 4], truncated=True)
    same_values(features["sample"], data(10_000)[:5])
    assert span.attributes["ml.input.rows"] == 10_000
    assert prediction is not None and prediction["_meta"]["rows"] == 10_000


def test_a_lazy_output_is_realized_once_in_place(aither_capture: SpanCapture) -> None:
    net = Net()
    tracked = aither_capture.client.wrap(net, name="tiny")
    x = Tensor(data(10_000)).realize()
    out = tracked(x)
    assert out.uop.is_realized  # sampling realized the caller's own tensor, not a view of it
    kernels = GlobalCounters.kernel_count
    got = out.numpy()
    assert GlobalCounters.kernel_count == kernels  # so the caller's .numpy() runs no kernel again
    np.testing.assert_array_equal(got, net(x).numpy())
    (span,) = aither_capture.spans()
    same_values(span.attributes["ml.prediction"]["sample"], got[:1_000])  # prediction_rows' default


def test_only_the_slice_is_copied() -> None:
    lazy = Tensor(data(1_000, 100)) * 2
    got = sample(lazy, 5, 10, LIMITS)
    assert isinstance(got.data, np.ndarray) and got.data.shape == (5, 10) and got.data.flags.owndata
    same_values(got.data, (data(1_000, 100) * 2)[:5, :10])
    assert got.meta == meta([1_000, 100], truncated=True)
    realized = Tensor(data(10_000, 64)).realize()
    got = sample(realized, 5, 10, LIMITS)
    assert isinstance(got.data, np.ndarray) and got.data.shape == (5, 10) and got.data.flags.owndata
    assert not np.shares_memory(got.data, realized.numpy())
    same_values(got.data, data(10_000, 64)[:5, :10])
    scalar = sample(Tensor(3.5), 5, 10, LIMITS)
    assert scalar.data == 3.5 and scalar.meta["shape"] == [] and scalar.meta["rows"] == 1


def test_a_model_called_inside_a_jit_capture_is_described_without_values(aither_capture: SpanCapture) -> None:
    Tensor.manual_seed(2)
    tracked = aither_capture.client.wrap(nn.Linear(4, 2), name="inner")

    @TinyJit
    def step(x: Tensor) -> Tensor:
        return tracked(x).realize()

    for i in range(3):
        step(Tensor(np.full((3, 4), i, dtype=np.float32)).realize())
    # call 1 runs Python, call 2 is captured (reading values then would bake them into the
    # graph), call 3 replays the captured kernels without running Python at all
    first, captured = aither_capture.spans()
    assert first.attributes["ml.features"]["sample"] == [[0.0] * 4] * 3
    assert captured.attributes["ml.features"] == {"sample": None, "_meta": meta([3, 4], truncated=True)}


def test_an_object_holding_no_tinygrad_is_a_plain_callable() -> None:
    class Scorer:
        def __init__(self) -> None:
            self.weights = [1.0, 2.0]
            self.inner = {"scale": 3}

        def __call__(self, x: float) -> float:
            return x

    assert adapter_for(Scorer()).framework == "callable"

    class Holder:
        def __init__(self) -> None:
            self.net = Net()  # tinygrad two levels down: a model built of blocks

        def __call__(self, x: Tensor) -> Tensor:
            return self.net(x)

    assert isinstance(adapter_for(Holder()), TinygradAdapter)


def test_predict_runs_the_call_as_one_span(aither_capture: SpanCapture) -> None:
    net = Net()
    tracked = aither_capture.client.wrap(net, name="tiny")
    x = Tensor(data(3))
    np.testing.assert_array_equal(tracked.predict(x).numpy(), net(x).numpy())
    (span,) = aither_capture.spans()
    assert span.attributes["ml.method"] == "__call__" and span.attributes["ml.input.rows"] == 3
