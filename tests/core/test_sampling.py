from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aither.sampling import SampleLimits, sample
from aither.sampling.encoder import dumps, to_jsonable

LIMITS = SampleLimits(rows=2, columns=3)


def encoded(value: Any, rows: int = 2, columns: int = 3) -> dict[str, Any]:
    """What the span carries: the sample encoded on the export thread, read back."""
    result: dict[str, Any] = json.loads(dumps(sample(value, rows, columns, LIMITS)))
    return result


def test_list_of_rows() -> None:
    assert encoded([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]) == {
        "sample": [[1, 2, 3], [5, 6, 7]],
        "_meta": {
            "type": "list",
            "shape": [3, 4],
            "columns": None,
            "dtypes": "list",
            "rows": 3,
            "truncated": True,
        },
    }


def test_list_of_records_and_a_tuple() -> None:
    records = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert encoded(records) == {
        "sample": records,
        "_meta": {
            "type": "list",
            "shape": [2, 2],
            "columns": ["a", "b"],
            "dtypes": {"a": "int", "b": "str"},
            "rows": 2,
            "truncated": False,
        },
    }
    assert encoded((1.5, 2.5)) == {
        "sample": [1.5, 2.5],
        "_meta": {
            "type": "tuple",
            "shape": [2],
            "columns": None,
            "dtypes": "float",
            "rows": 2,
            "truncated": False,
        },
    }


def test_a_dict_is_one_record_and_a_dict_of_columns_is_a_batch() -> None:
    assert encoded({"amount": 150.0, "country": "US"}) == {
        "sample": {"amount": 150.0, "country": "US"},
        "_meta": {
            "type": "dict",
            "shape": [1, 2],
            "columns": ["amount", "country"],
            "dtypes": ["float", "str"],
            "rows": 1,
            "truncated": False,
        },
    }
    assert encoded({"a": [1, 2, 3], "b": [4, 5, 6], "c": [7, 8, 9], "d": [0, 0, 0]}) == {
        "sample": {"a": [1, 2], "b": [4, 5], "c": [7, 8]},
        "_meta": {
            "type": "dict",
            "shape": [3, 4],
            "columns": ["a", "b", "c"],
            "dtypes": ["list", "list", "list"],
            "rows": 3,
            "truncated": True,
        },
    }


def test_scalars_strings_and_bytes() -> None:
    assert encoded(3) == {
        "sample": 3,
        "_meta": {
            "type": "int",
            "shape": [],
            "columns": None,
            "dtypes": "int",
            "rows": 1,
            "truncated": False,
        },
    }
    assert encoded(None)["sample"] is None
    long = "x" * 5000
    text = encoded(long)
    assert (
        text["sample"] == "x" * 1000 + "..."
        and text["_meta"]["truncated"] is True
        and text["_meta"]["shape"] == [5000]
    )
    assert encoded(b"hello")["sample"] == "hello"
    assert encoded(b"\xff\x00\x01")["sample"] == "base64:/wAB"


def test_unknown_objects_are_described_by_their_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    assert encoded(Thing()) == {
        "sample": "<thing>",
        "_meta": {
            "type": f"{__name__}.{Thing.__qualname__}",
            "shape": None,
            "columns": None,
            "dtypes": None,
            "rows": 1,
            "truncated": False,
        },
    }


def test_numpy_slices_first_and_copies_only_the_slice() -> None:
    np = pytest.importorskip("numpy")
    big = np.arange(4_000_000, dtype=np.float32).reshape(1_000_000, 4)
    s = sample(big, 2, 3, LIMITS)
    assert s.data.shape == (2, 3) and s.data.base is None and s.data.nbytes == 24  # a copy of the slice alone
    big[0, 0] = -1.0  # the caller's later write never reaches the span
    assert json.loads(dumps(s)) == {
        "sample": [[0.0, 1.0, 2.0], [4.0, 5.0, 6.0]],
        "_meta": {
            "type": "numpy.ndarray",
            "shape": [1_000_000, 4],
            "columns": None,
            "dtypes": "float32",
            "rows": 1_000_000,
            "truncated": True,
        },
    }
    cube = np.zeros((3, 5, 5))
    assert sample(cube, 2, 3, LIMITS).data.shape == (2, 3, 3)
    assert encoded(np.float64(2.5))["sample"] == 2.5
    assert encoded(np.array([1.0, np.nan, np.inf]), rows=5)["sample"] == [1.0, "NaN", "Infinity"]
    structured = np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    assert encoded(structured)["_meta"]["columns"] == ["a", "b"]


def test_pandas_frame_and_series() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"], "d": [True, False, True]})
    s = sample(df, 2, 3, LIMITS)
    df.loc[0, "a"] = 100  # copy-on-write: the sample keeps what the model saw
    assert json.loads(dumps(s)) == {
        "sample": [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": 1.5, "c": "y"}],
        "_meta": {
            "type": "pandas.DataFrame",
            "shape": [3, 4],
            "columns": ["a", "b", "c"],
            "dtypes": {"a": "int64", "b": "float64", "c": "str" if pd.__version__ >= "3" else "object"},
            "rows": 3,
            "truncated": True,
        },
    }
    series = pd.Series([1.0, None, 3.0], name="score")
    assert encoded(series) == {
        "sample": [1.0, "NaN"],
        "_meta": {
            "type": "pandas.Series",
            "shape": [3],
            "columns": ["score"],
            "dtypes": "float64",
            "rows": 3,
            "truncated": True,
        },
    }
    stamps = pd.DataFrame({"t": pd.to_datetime(["2026-01-01", None])})
    assert encoded(stamps)["sample"] == [{"t": "2026-01-01T00:00:00"}, {"t": "NaT"}]
    gaps = pd.DataFrame({"x": [float("nan"), 1.0]})
    assert encoded(gaps)["sample"] == [{"x": "NaN"}, {"x": 1.0}]


def test_a_frame_of_one_numeric_dtype_reads_as_any_other_frame() -> None:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")

    def expected(df: Any, rows: int, columns: int) -> list[dict[str, Any]]:
        names = [str(c) for c in df.columns[:columns]]
        values = df.iloc[:rows, :columns].to_numpy(dtype=object).tolist()
        return [dict(zip(names, (to_jsonable(v) for v in row), strict=True)) for row in values]

    ints = pd.DataFrame(np.arange(60).reshape(6, 10), columns=[f"c{i}" for i in range(10)])
    floats = pd.DataFrame(np.linspace(0, 1, 200).reshape(4, 50))  # wide, int column names
    flags = pd.DataFrame({"x": [True, False], "y": [False, False]})
    mixed = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5]})  # ints stay ints beside floats
    gaps = pd.DataFrame({"a": [1.0, float("inf")], "b": [2.0, 3.0]})
    twins = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])  # the last of one name wins
    for frame in (ints, floats, flags, mixed, gaps, twins):
        got = encoded(frame, 3, 4)
        assert got["sample"] == expected(frame, 3, 4), frame
        assert list(got["_meta"]["dtypes"]) == got["_meta"]["columns"][: len(got["_meta"]["dtypes"])]
    assert encoded(ints, 3, 4)["sample"][0] == {"c0": 0, "c1": 1, "c2": 2, "c3": 3}
    assert encoded(gaps, 3, 4)["sample"][1] == {"a": "Infinity", "b": 3.0}
    assert encoded(floats, 1, 2)["_meta"]["columns"] == ["0", "1"]


def test_polars_frame_and_series() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1.0, 2.0, 3.0], "d": [0, 0, 0]})
    assert encoded(df) == {
        "sample": [{"a": 1, "b": "x", "c": 1.0}, {"a": 2, "b": "y", "c": 2.0}],
        "_meta": {
            "type": "polars.DataFrame",
            "shape": [3, 4],
            "columns": ["a", "b", "c"],
            "dtypes": {"a": "Int64", "b": "String", "c": "Float64"},
            "rows": 3,
            "truncated": True,
        },
    }
    assert encoded(pl.Series("s", [1, 2, 3])) == {
        "sample": [1, 2],
        "_meta": {
            "type": "polars.Series",
            "shape": [3],
            "columns": ["s"],
            "dtypes": "Int64",
            "rows": 3,
            "truncated": True,
        },
    }


def test_the_encoder_never_raises_and_stays_readable() -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    nested: dict[str, Any] = {"a": {"b": {"c": [1, {"d": 2}]}}}
    value = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5),
        "day": dt.date(2026, 1, 2),
        "dur": dt.timedelta(seconds=90),
        "money": decimal.Decimal("1.10"),
        "id": uuid.UUID(int=1),
        "raw": b"ok",
        "set": {3, 1, 2},
        "cycle": cyclic,
        "bad": BadRepr(),
        "nested": nested,
        7: "int key",
        "surrogate": "\ud800x",
    }
    out = json.loads(dumps(value))
    assert out["nan"] == "NaN" and out["inf"] == "Infinity" and out["ninf"] == "-Infinity"
    assert out["when"] == "2026-01-02T03:04:05" and out["day"] == "2026-01-02" and out["dur"] == 90.0
    assert out["money"] == "1.10" and out["id"] == str(uuid.UUID(int=1)) and out["raw"] == "ok"
    assert out["set"] == [1, 2, 3]
    assert out["cycle"] == [1, "<cycle>"]
    assert out["bad"] == "<BadRepr object>"
    assert out["nested"] == nested and out["7"] == "int key"
    assert out["surrogate"] == "\ud800x"
    np = pytest.importorskip("numpy")
    assert to_jsonable(np.int64(3)) == 3 and to_jsonable(np.dtype("float32")) == "float32"


@pytest.fixture
def long_capture() -> Iterator[Any]:
    """Spans captured in memory, with ``prediction_rows`` raised past its default of 1,000."""
    from aither.testing import SpanCapture

    capture = SpanCapture(prediction_rows=10_000)
    yield capture
    capture.close()


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        ("float32", (2_500, 2)),
        ("float64", (1_010,)),
        ("int64", (3_000,)),
        ("bool", (1_200, 3)),
        (">f8", (1_500,)),  # big-endian in, little-endian on the wire
    ],
)
def test_a_long_numeric_output_keeps_every_row_past_the_json_ones_in_binary(
    long_capture: Any, dtype: str, shape: tuple[int, ...]
) -> None:
    np = pytest.importorskip("numpy")
    from aither.schema.envelope import JSON_ROWS, decode_rest

    rng = np.random.default_rng(3)
    output = (rng.random(shape) * 10).astype(dtype)
    if output.dtype.kind == "f":
        output[JSON_ROWS + 7] = np.nan  # a non-finite value past the JSON rows reads as in JSON
    tracked = long_capture.client.wrap(lambda x: output, name="long")
    assert tracked(1) is output
    (span,) = long_capture.spans("prediction")

    wire = json.loads(span.raw.attributes["ml.prediction"])  # as sent: JSON rows, then binary
    assert set(wire) == {"sample", "_meta", "rest"}
    assert len(wire["sample"]) == JSON_ROWS
    assert wire["rest"]["shape"] == [shape[0] - JSON_ROWS, *shape[1:]]
    assert wire["rest"]["dtype"] == np.dtype(dtype).newbyteorder("<").str
    assert wire["_meta"]["rows"] == shape[0] and wire["_meta"]["truncated"] is False

    assert wire["sample"] == json.loads(dumps(output[:JSON_ROWS]))
    rest = decode_rest(wire["rest"])
    assert rest is not None and len(rest) == shape[0] - JSON_ROWS
    # the same values, bit for bit in the output's dtype ("NaN" as the JSON rows write it)
    np.testing.assert_array_equal(np.array(_nan(rest), dtype=output.dtype), output[JSON_ROWS:])
    whole = span.attributes["ml.prediction"]  # aither.testing joins the two parts back
    assert set(whole) == {"sample", "_meta"} and whole["sample"] == wire["sample"] + rest


def _nan(value: Any) -> Any:
    if isinstance(value, list):
        return [_nan(v) for v in value]
    return math.nan if value == "NaN" else value


def test_a_rest_that_does_not_decode_is_left_out() -> None:
    from aither.schema.envelope import decode_rest, join_rest

    good = {"encoding": "base64", "dtype": "<i4", "shape": [2], "data": "AQAAAAIAAAA="}
    assert decode_rest(good) == [1, 2]
    for bad in (
        {**good, "data": "AQAAAAIAAA=="},  # 6 bytes for two int32
        {**good, "data": "not base64!"},
        {**good, "dtype": "<c16"},
        {**good, "shape": [1, 1, 2]},
        {**good, "shape": [10**9, 10**9]},
        {**good, "encoding": "hex"},
        "AQAAAAIAAAA=",
    ):
        assert decode_rest(bad) is None, bad
    assert join_rest({"sample": [0], "_meta": {}, "rest": good}) == {"sample": [0, 1, 2], "_meta": {}}
    undecodable = {"sample": [0], "_meta": {}, "rest": {**good, "shape": [3]}}
    assert join_rest(undecodable) == {"sample": [0], "_meta": {}}
