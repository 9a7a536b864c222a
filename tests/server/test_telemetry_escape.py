"""The ClickHouse executor writes query parameters into SQL exactly as clickhouse-driver would."""

from __future__ import annotations

import datetime
import random
import uuid
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from clickhouse_driver.util.escape import escape_params  # noqa: E402

from aither.server.telemetry.client import escape_value, substitute  # noqa: E402

_ODD = "\b\f\r\n\t\0\a\v\\'\"%üé€\x01\x7f "


def _driver(value: Any) -> str:
    return str(escape_params({"v": value}, None)["v"])


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        "back\\slash",
        "\b\f\r\n\t\0\a\v",
        "",
        None,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        float("inf"),
        True,
        ("a", "b"),
        (("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"), ("t", "it's")),
        ["x", None, 3, ("nested", 1)],
        (),
        [],
        datetime.date(2024, 1, 2),
        uuid.UUID(int=7),
    ],
)
def test_each_value_is_written_as_the_driver_writes_it(value: Any) -> None:
    assert str(escape_value(value)) == _driver(value)


def test_random_strings_and_their_tuples_are_written_as_the_driver_writes_them() -> None:
    rng = random.Random(16)
    for _ in range(500):
        text = "".join(rng.choice(_ODD + "abc0123") for _ in range(rng.randrange(0, 12)))
        assert escape_value(text) == _driver(text)
        pair = (text, text[::-1])
        assert escape_value((pair, pair)) == _driver((pair, pair))


def test_a_query_is_substituted_as_the_driver_substitutes_it() -> None:
    sql = "SELECT 1 FROM t WHERE org_id = %(org)s AND span_id IN %(ids)s AND name LIKE 'a%%'"
    params = {"org": "org_'1", "ids": ("a", "b\\")}
    assert substitute(sql, params) == sql % escape_params(params, None)
    assert substitute("SELECT 1", None) == "SELECT 1"
