from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import aither
from aither.sampling import SampleLimits, sample
from aither.sampling.torch import HostSlice, sample_torch
from aither.testing import SpanCapture

from ..expect import prediction_attributes, same_values, split, tensor_meta

VERSION = str(torch.__version__)
LIMITS = SampleLimits()


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()


def attributes(method: str, rows: int, **extra: Any) -> dict[str, Any]:
    return prediction_attributes(
        "net",
        framework="torch",
        version=VERSION,
        model_class="torch.nn.modules.container.Sequential",
        method=method,
        rows_in=rows,
        rows_out=rows,
        parameters=4 * 3 + 3 + 3 * 2 + 2,
        **extra,
    )


def test_calling_the_module_makes_one_whole_span(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    x = torch.randn(7, 4)
    out = tracked(x)
    expected = net(x)
    assert torch.equal(out, expected) and out.dtype == expected.dtype
    (span,) = aither_capture.spans()  # nn.Module.__call__ runs the module's own forward: no 2nd span
    assert span.name == "predict net"
    assert span.kind == "prediction"
    assert span.status == "UNSET"
    assert span.trace_id == tracked.last_trace_id
    attrs, features, prediction = split(span)
    assert attrs == attributes("__call__", 7)
    assert features["_meta"] == tensor_meta(
        "torch.Tensor", [7, 4], "float32", truncated=True, device="cpu", requires_grad=False
    )
    same_values(features["sample"], x[:5].numpy())
    assert prediction is not None
    assert prediction["_meta"] == tensor_meta(
        "torch.Tensor", [7, 2], "float32", truncated=False, device="cpu", requires_grad=True
    )
    same_values(prediction["sample"], expected.detach().numpy())


def test_forward_is_traced_too(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.equal(tracked.forward(x), net.forward(x))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs == attributes("forward", 2)
    assert prediction is not None
    assert prediction["_meta"]["requires_grad"] is False  # made under no_grad
    same_values(features["sample"], x.numpy())


def test_module_methods_pass_through_untraced(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    assert isinstance(tracked, nn.Module) and isinstance(tracked, nn.Sequential)
    assert aither.unwrap(tracked) is net
    assert tracked.train() is net and net.training
    assert tracked.eval() is net and not net.training
    assert tracked.to(torch.float64) is net and net[0].weight.dtype == torch.float64
    assert tracked.state_dict().keys() == net.state_dict().keys()
    assert [n for n, _ in tracked.named_parameters()] == [n for n, _ in net.named_parameters()]
    assert len(tracked) == 3 and tracked[0] is net[0]
    tracked.zero_grad()
    assert aither_capture.spans() == []
    out = tracked(torch.ones(1, 4, dtype=torch.float64))
    assert out.dtype == torch.float64
    (span,) = aither_capture.spans()
    assert span.attributes["ml.features"]["_meta"]["dtypes"] == "float64"


class Head(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.out = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def test_a_wrapped_module_works_as_a_submodule_and_under_no_grad(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    torch.manual_seed(1)
    parent = Head(tracked)
    torch.manual_seed(1)
    plain = Head(net)
    assert parent._modules["body"] is tracked  # registered as a submodule, not a plain attribute
    assert len(list(parent.parameters())) == len(list(plain.parameters())) == 6
    assert parent.state_dict().keys() == plain.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(parent.state_dict().values(), plain.state_dict().values()))
    x = torch.randn(3, 4)
    with torch.no_grad():
        got = parent(x)
        want = plain(x)
    assert torch.equal(got, want) and not got.requires_grad
    (span,) = aither_capture.spans()  # the wrapped child is traced; plain(x) is not
    attrs, features, prediction = split(span)
    assert attrs == attributes("__call__", 3)
    assert prediction is not None and prediction["_meta"]["requires_grad"] is False
    parent.train()
    assert net.training  # train() reaches the wrapped child through the parent


class Structured(nn.Module):
    """Takes a dict of tensors, returns a tuple holding a tensor and a dict of tensors."""

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = batch["x"].sum(dim=1)
        return total, {"scaled": batch["x"] * 2, "ids": batch["ids"] + 1}


def test_dicts_and_tuples_of_tensors(aither_capture: SpanCapture) -> None:
    model = Structured()
    tracked = aither_capture.client.wrap(model, name="structured")
    batch = {"x": torch.arange(24, dtype=torch.float32).reshape(8, 3), "ids": torch.arange(8)}
    total, parts = tracked(batch)
    want_total, want_parts = model(batch)
    assert torch.equal(total, want_total)
    assert parts.keys() == want_parts.keys()
    assert all(torch.equal(parts[k], want_parts[k]) for k in parts)
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs["ml.input.rows"] == 8
    # a dict of equal-length tensors is a batch of 8 rows with one column per key
    assert features["_meta"] == {
        "type": "dict",
        "shape": [8, 2],
        "columns": ["x", "ids"],
        "dtypes": ["Tensor", "Tensor"],
        "rows": 8,
        "truncated": True,
    }
    same_values(features["sample"]["x"], batch["x"][:5].numpy())
    same_values(features["sample"]["ids"], batch["ids"][:5].numpy())
    assert prediction is not None
    assert prediction["_meta"]["type"] == "tuple" and prediction["_meta"]["shape"][0] == 2
    first, second = prediction["sample"]
    same_values(first, want_total.numpy())
    same_values(second["scaled"], want_parts["scaled"].numpy())
    same_values(second["ids"], want_parts["ids"].numpy())


def test_ten_thousand_rows_give_a_bounded_sample(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    x = torch.randn(10_000, 4)
    with torch.no_grad():
        assert torch.equal(tracked(x), net(x))
    (span,) = aither_capture.spans()
    _, features, prediction = split(span)
    assert features["_meta"] == tensor_meta(
        "torch.Tensor", [10_000, 4], "float32", truncated=True, device="cpu", requires_grad=False
    )
    same_values(features["sample"], x[:5].numpy())
    assert span.attributes["ml.input.rows"] == 10_000
    # outputs kept whole to the cap (prediction_rows, default 1,000), then truncated
    assert prediction is not None and len(prediction["sample"]) == 1_000
    assert prediction["_meta"]["rows"] == 10_000 and prediction["_meta"]["truncated"] is True


def test_wide_and_deep_tensors_are_capped_on_every_axis() -> None:
    x = torch.arange(10_000 * 640, dtype=torch.int32).reshape(10_000, 8, 8, 10)
    got = sample_torch(x, 5, 3, LIMITS)
    assert got is not None and isinstance(got.data, HostSlice)
    assert tuple(got.data.host.shape) == (5, 3, 3, 3)
    assert got.meta["shape"] == [10_000, 8, 8, 10] and got.meta["truncated"] is True
    np.testing.assert_array_equal(got.data.__aither_json__(), x[:5, :3, :3, :3].numpy())


class CopyCounter(TorchDispatchMode):
    """Records the number of elements of every tensor an operator makes."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.made.append((str(func), t.numel()))
        return out


def test_only_the_slice_is_copied() -> None:
    x = torch.randn(10_000, 64, requires_grad=True)
    with CopyCounter() as counter:
        got = sample_torch(x, 5, 10, LIMITS)
    assert got is not None and isinstance(got.data, HostSlice)
    copy = got.data.host
    # no torch operator copied anything (views are free); the one copy is numpy's, of 5 x 10
    assert not [(op, n) for op, n in counter.made if "clone" in op or "copy" in op], counter.made
    assert isinstance(copy, np.ndarray) and copy.flags.owndata and copy.nbytes == 5 * 10 * 4
    assert not np.shares_memory(copy, x.detach().numpy())
    before = x[:5, :10].detach().clone()
    with torch.no_grad():
        x.add_(1.0)  # the caller's later in-place write never reaches the span
    np.testing.assert_array_equal(got.data.__aither_json__(), before.numpy())
    assert got.meta == tensor_meta(
        "torch.Tensor", [10_000, 64], "float32", truncated=True, device="cpu", requires_grad=True
    )


def test_dtypes_numpy_lacks_are_copied_by_torch() -> None:
    x = torch.arange(40, dtype=torch.float32).reshape(20, 2).to(torch.bfloat16)
    got = sample_torch(x, 5, 10, LIMITS)
    assert got is not None and isinstance(got.data, HostSlice)
    assert isinstance(got.data.host, torch.Tensor) and got.data.host.untyped_storage().nbytes() == 5 * 2 * 2
    np.testing.assert_array_equal(got.data.__aither_json__(), np.arange(10, dtype=np.float32).reshape(5, 2))
    conj = torch.tensor([[1 + 2j, 3 - 1j]]).conj()  # a conjugate view: numpy cannot see it
    assert sample_torch(conj, 5, 10, LIMITS).data.__aither_json__() == [[1 - 2j, 3 + 1j]]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (torch.bfloat16, "bfloat16"),
        (torch.float16, "float16"),
        (torch.int64, "int64"),
        (torch.bool, "bool"),
        (torch.uint8, "uint8"),
    ],
)
def test_dtypes_are_named_and_their_values_read_back(
    aither_capture: SpanCapture, dtype: torch.dtype, name: str
) -> None:
    x = (torch.arange(12).reshape(3, 4) % 3).to(dtype)
    tracked = aither_capture.client.wrap(lambda t: t, name="identity")
    assert tracked(x) is x
    (span,) = aither_capture.spans()
    _, features, _ = split(span)
    assert features["_meta"]["dtypes"] == name
    assert features["_meta"]["type"] == "torch.Tensor"
    same_values(features["sample"], x.to(torch.float32).numpy() if dtype == torch.bfloat16 else x.numpy())


def test_scalars_parameters_sparse_and_meta_tensors_are_described() -> None:
    scalar = sample(torch.tensor(2.5), 5, 10, LIMITS)
    assert scalar.data.__aither_json__() == 2.5
    assert scalar.meta == tensor_meta(
        "torch.Tensor", [], "float32", truncated=False, device="cpu", requires_grad=False, rows=1
    )
    param = sample(nn.Parameter(torch.ones(2, 2)), 5, 10, LIMITS)
    assert param.meta["type"] == "torch.nn.parameter.Parameter" and param.meta["requires_grad"] is True
    sparse = sample(torch.eye(4).to_sparse(), 5, 10, LIMITS)
    assert sparse.data is None
    assert sparse.meta == tensor_meta(
        "torch.Tensor", [4, 4], "float32", truncated=True, device="cpu", requires_grad=False
    )
    on_meta = sample(torch.empty(100, 3, device="meta"), 5, 10, LIMITS)
    assert on_meta.data is None
    assert on_meta.meta == tensor_meta(
        "torch.Tensor", [100, 3], "float32", truncated=True, device="meta", requires_grad=False
    )
    complex_ = sample(torch.tensor([1 + 2j]), 5, 10, LIMITS)
    assert complex_.data.__aither_json__() == [1 + 2j]
    structseq = torch.max(torch.tensor([[1.0, 3.0]]), dim=1)  # a torch.return_types tuple
    assert sample_torch(structseq, 5, 10, LIMITS) is None
    assert sample(structseq, 5, 10, LIMITS).meta["type"] == "max"


def test_a_scalar_output_reads_as_a_number(aither_capture: SpanCapture) -> None:
    tracked = aither_capture.client.wrap(lambda t: t.sum(), name="total")
    x = torch.ones(6, 2)
    assert torch.equal(tracked(x), torch.tensor(12.0))
    (span,) = aither_capture.spans()
    _, _, prediction = split(span)
    assert prediction == {
        "sample": 12.0,
        "_meta": tensor_meta(
            "torch.Tensor", [], "float32", truncated=False, device="cpu", requires_grad=False, rows=1
        ),
    }
    assert span.attributes["ml.output.rows"] == 1


def test_the_models_exception_passes_through(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    x = torch.ones(2, 5)  # wrong width
    with pytest.raises(RuntimeError) as raised:
        tracked(x)
    with pytest.raises(RuntimeError) as plain:
        net(x)
    assert str(raised.value) == str(plain.value)
    (span,) = aither_capture.spans()
    assert span.status == "ERROR" and "ml.prediction" not in span.attributes
    assert span.attributes["ml.features"]["_meta"]["shape"] == [2, 5]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_tensor_copies_only_its_slice_to_the_host() -> None:
    x = torch.randn(100_000, 256, device="cuda")
    torch.cuda.synchronize()
    got = sample_torch(x, 5, 10, LIMITS)
    assert got is not None and isinstance(got.data, HostSlice)
    host = got.data.host
    assert isinstance(host, torch.Tensor) and host.device.type == "cpu" and host.is_pinned()
    assert host.untyped_storage().nbytes() == 5 * 10 * 4  # not the 100 MB tensor
    assert got.meta["device"] == "cuda:0"
    np.testing.assert_array_equal(got.data.__aither_json__(), x[:5, :10].cpu().numpy())


def test_a_dict_holding_a_scalar_tensor(aither_capture: SpanCapture) -> None:
    model = lambda t: {"loss": t.sum(), "out": t * 2}  # noqa: E731
    tracked = aither_capture.client.wrap(model, name="with_loss")
    x = torch.ones(3, 2)
    got, want = tracked(x), model(x)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)
    (span,) = aither_capture.spans()
    _, _, prediction = split(span)
    # a 0-d tensor is no column: the dict is one record, not a batch of rows
    assert prediction == {
        "sample": {"loss": 6.0, "out": [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]},
        "_meta": {
            "type": "dict",
            "shape": [1, 2],
            "columns": ["loss", "out"],
            "dtypes": ["Tensor", "Tensor"],
            "rows": 1,
            "truncated": False,
        },
    }
    assert span.attributes["ml.output.rows"] == 1


def test_predict_runs_the_forward_call_as_one_span(aither_capture: SpanCapture) -> None:
    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.equal(tracked.predict(x), net(x))  # the README's "Both work"
        assert torch.equal(tracked(x), net(x))
    first, second = aither_capture.spans()
    assert split(first)[0] == split(second)[0] == attributes("__call__", 3)
    assert not hasattr(net, "predict") and callable(tracked)


def test_the_first_span_carries_the_modules_fingerprint(aither_capture: SpanCapture) -> None:
    import hashlib
    import pickle

    net = make_net()
    tracked = aither_capture.client.wrap(net, name="net")
    with torch.no_grad():
        tracked(torch.randn(1, 4))
        tracked(torch.randn(1, 4))
    first, second = aither_capture.spans()
    digest = hashlib.sha256(pickle.dumps(net, protocol=4)).hexdigest()
    assert first.attributes["ml.model.fingerprint"] == f"sha256:{digest}"
    assert "ml.model.params" not in first.attributes  # no get_params: hyperparameters unknown
    assert "ml.model.fingerprint" not in second.attributes
