"""Fixtures shared by the LLM client tests: a scripted local server, started and stopped per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .wire import WireServer


@pytest.fixture
def wire() -> Iterator[WireServer]:
    """A started :class:`~tests.llm.wire.WireServer` on 127.0.0.1, stopped after the test."""
    with WireServer() as server:
        yield server
