from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import aither
from aither.sampling import SampleLimits, sample
from aither.testing import SpanCapture

from ..expect import prediction_attributes, same_values, split, tensor_meta

LIMITS = SampleLimits()
CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)]
    )


@pytest.fixture(scope="module")
def two_inputs() -> keras.Model:
    keras.utils.set_random_seed(0)
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    return keras.Model({"a": a, "b": b}, out)


def attributes(
    method: str, rows: int, name: str = "keras", cls: str = "sequential.Sequential", params: int = 23
) -> dict[str, Any]:
    return prediction_attributes(
        name,
        framework="keras",
        version=keras.__version__,
        model_class=f"keras.src.models.{cls}",
        method=method,
        rows_in=rows,
        rows_out=rows,
        parameters=params,
    )


def test_calling_the_model_makes_one_whole_span(aither_capture: SpanCapture, model: keras.Model) -> None:
    tracked = aither_capture.client.wrap(model, name="keras")
    x = np.random.default_rng(0).random((7, 4), dtype=np.float32)
    out = tracked(x)
    expected = model(x)
    assert isinstance(out, tf.Tensor) and np.array_equal(out.numpy(), expected.numpy())
    (span,) = aither_capture.spans()
    assert span.name == "predict keras" and span.kind == "prediction" and span.status == "UNSET"
    attrs, features, prediction = split(span)
    assert attrs == attributes("__call__", 7)
    assert features["_meta"] == {
        "type": "numpy.ndarray",
        "shape": [7, 4],
        "columns": None,
        "dtypes": "float32",
        "rows": 7,
        "truncated": True,
    }
    same_values(features["sample"], x[:5])
    assert prediction is not None
    assert prediction["_meta"] == tensor_meta(
        "tensorflow.Tensor", [7, 2], "float32", truncated=False, device=CPU, requires_grad=None
    )
    same_values(prediction["sample"], expected.numpy())


def test_predict_is_one_span_with_a_tensorflow_tensor_input(
    aither_capture: SpanCapture, model: keras.Model
) -> None:
    tracked = aither_capture.client.wrap(model, name="keras")
    x = tf.constant(np.random.default_rng(1).random((6, 4), dtype=np.float32))
    out = tracked.predict(x, verbose=0)
    np.testing.assert_array_equal(out, model.predict(x, verbose=0))
    (span,) = aither_capture.spans()  # predict() calls the model itself, not the proxy
    attrs, features, prediction = split(span)
    assert attrs == attributes("predict", 6)
    assert features["_meta"] == tensor_meta(
        "tensorflow.Tensor", [6, 4], "float32", truncated=True, device=CPU, requires_grad=None
    )
    same_values(features["sample"], x.numpy()[:5])
    assert prediction is not None
    assert prediction["_meta"] == {
        "type": "numpy.ndarray",
        "shape": [6, 2],
        "columns": None,
        "dtypes": "float32",
        "rows": 6,
        "truncated": False,
    }
    same_values(prediction["sample"], out)


def test_predict_on_batch_and_the_rest_pass_through(aither_capture: SpanCapture, model: keras.Model) -> None:
    tracked = aither_capture.client.wrap(model, name="keras")
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(tracked.predict_on_batch(x), model.predict_on_batch(x))
    assert isinstance(tracked, keras.Model) and aither.unwrap(tracked) is model
    assert tracked.count_params() == 23 and len(tracked.layers) == 2
    assert [w.shape for w in tracked.get_weights()] == [w.shape for w in model.get_weights()]
    assert tracked.input_shape == (None, 4)
    (span,) = aither_capture.spans()
    assert span.attributes["ml.method"] == "predict_on_batch"


@pytest.mark.parametrize("kind", ["numpy", "tensorflow"])
def test_dicts_of_arrays_and_tensors(aither_capture: SpanCapture, two_inputs: keras.Model, kind: str) -> None:
    rng = np.random.default_rng(2)
    x: dict[str, Any] = {"a": rng.random((8, 3), dtype=np.float32), "b": rng.random((8, 2), dtype=np.float32)}
    if kind == "tensorflow":
        x = {k: tf.constant(v) for k, v in x.items()}
    tracked = aither_capture.client.wrap(two_inputs, name="two")
    np.testing.assert_array_equal(tracked(x).numpy(), two_inputs(x).numpy())
    (span,) = aither_capture.spans()
    attrs, features, _ = split(span)
    assert attrs == attributes("__call__", 8, name="two", cls="functional.Functional", params=6)
    assert features["_meta"] == {
        "type": "dict",
        "shape": [8, 2],
        "columns": ["a", "b"],
        "dtypes": ["ndarray", "ndarray"] if kind == "numpy" else ["EagerTensor", "EagerTensor"],
        "rows": 8,
        "truncated": True,
    }
    for key in ("a", "b"):
        same_values(features["sample"][key], np.asarray(x[key])[:5])


def test_ten_thousand_rows_give_a_bounded_sample(aither_capture: SpanCapture, model: keras.Model) -> None:
    tracked = aither_capture.client.wrap(model, name="keras")
    x = tf.constant(np.random.default_rng(3).random((10_000, 4), dtype=np.float32))
    np.testing.assert_array_equal(tracked(x).numpy(), model(x).numpy())
    (span,) = aither_capture.spans()
    _, features, prediction = split(span)
    assert features["_meta"] == tensor_meta(
        "tensorflow.Tensor", [10_000, 4], "float32", truncated=True, device=CPU, requires_grad=None
    )
    same_values(features["sample"], x.numpy()[:5])
    assert prediction is not None and prediction["_meta"]["rows"] == 10_000


def test_a_host_tensor_is_read_without_copying_it_whole() -> None:
    x = tf.constant(np.arange(10_000 * 64, dtype=np.float32).reshape(10_000, 64))
    got = sample(x, 5, 10, LIMITS)
    assert isinstance(got.data, np.ndarray) and got.data.shape == (5, 10)
    assert got.data.flags.owndata  # its own 200 bytes, not a view of the tensor's buffer
    assert not np.shares_memory(got.data, x._numpy())
    np.testing.assert_array_equal(got.data, x.numpy()[:5, :10])


def test_variables_ragged_sparse_and_datasets() -> None:
    var = tf.Variable(np.arange(12, dtype=np.float32).reshape(6, 2))
    got = sample(var, 5, 10, LIMITS)
    same_values(got.data, var.numpy()[:5])
    assert got.meta == tensor_meta(
        "tensorflow.Variable", [6, 2], "float32", truncated=True, device=CPU, requires_grad=True
    )
    ragged = tf.ragged.constant([[1, 2, 3], [4], [5, 6], [7], [8], [9, 10]])
    got = sample(ragged, 5, 2, LIMITS)
    assert got.data == [[1, 2], [4], [5, 6], [7], [8]]
    assert got.meta == tensor_meta(
        "tensorflow.RaggedTensor", [6, None], "int32", truncated=True, device=None, requires_grad=None
    )
    sparse = tf.sparse.from_dense(np.eye(4, dtype=np.float32))
    got = sample(sparse, 5, 10, LIMITS)
    assert got.data is None
    assert got.meta == tensor_meta(
        "tensorflow.SparseTensor", [4, 4], "float32", truncated=True, device=None, requires_grad=None
    )
    dataset = tf.data.Dataset.from_tensor_slices({"a": np.ones((10, 3), np.float32)}).batch(4)
    got = sample(dataset, 5, 10, LIMITS)
    assert got.data is None
    assert got.meta["type"] == "tensorflow.data.Dataset" and got.meta["dtypes"] == {"a": "float32"}
    assert got.meta["rows"] is None and got.meta["truncated"] is True
    scalar = sample(tf.constant(3.5), 5, 10, LIMITS)
    assert float(scalar.data) == 3.5 and scalar.meta["shape"] == [] and scalar.meta["rows"] == 1
    strings = sample(tf.constant(["a", "b"]), 5, 10, LIMITS)
    assert strings.data.tolist() == [b"a", b"b"] and strings.meta["dtypes"] == "string"


def test_predict_on_a_dataset_describes_it(aither_capture: SpanCapture, model: keras.Model) -> None:
    tracked = aither_capture.client.wrap(model, name="keras")
    data = np.random.default_rng(4).random((10, 4), dtype=np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(4)
    np.testing.assert_array_equal(tracked.predict(dataset, verbose=0), model.predict(dataset, verbose=0))
    (span,) = aither_capture.spans()
    _, features, prediction = split(span)
    assert features == {
        "sample": None,
        "_meta": tensor_meta(
            "tensorflow.data.Dataset",
            [None, 4],
            "float32",
            truncated=True,
            device=None,
            requires_grad=None,
            rows=None,
        ),
    }
    assert "ml.input.rows" not in span.attributes
    assert prediction is not None and prediction["_meta"]["shape"] == [10, 2]


def test_an_unbuilt_model_has_no_parameter_count_yet(aither_capture: SpanCapture) -> None:
    lazy = keras.Sequential([keras.layers.Dense(2)])
    tracked = aither_capture.client.wrap(lazy, name="lazy")
    tracked(np.ones((1, 3), dtype=np.float32))
    (span,) = aither_capture.spans()
    assert "ml.model.parameters" not in span.attributes
    assert span.attributes["ml.model.framework"] == "keras"


class Scale(tf.Module):
    """A plain TensorFlow module, no Keras: framework ``tensorflow``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable([[2.0], [3.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, self.w)


def test_a_tensorflow_module(aither_capture: SpanCapture) -> None:
    module = Scale()
    tracked = aither_capture.client.wrap(module, name="scale")
    x = tf.constant([[1.0, 1.0], [2.0, 0.5]])
    out = tracked(x)
    np.testing.assert_array_equal(out.numpy(), module(x).numpy())
    assert tracked.w is module.w and aither.unwrap(tracked) is module
    (span,) = aither_capture.spans()  # the tf.function runs inside the call: one span
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "scale",
        framework="tensorflow",
        version=tf.__version__,
        model_class=f"{__name__}.Scale",
        method="__call__",
        rows_in=2,
        rows_out=2,
        parameters=2,
    )
    assert features == {
        "sample": [[1.0, 1.0], [2.0, 0.5]],
        "_meta": tensor_meta(
            "tensorflow.Tensor", [2, 2], "float32", truncated=False, device=CPU, requires_grad=None
        ),
    }
    assert prediction == {
        "sample": [[5.0], [5.5]],
        "_meta": tensor_meta(
            "tensorflow.Tensor", [2, 1], "float32", truncated=False, device=CPU, requires_grad=None
        ),
    }
