from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never read the developer's own ~/.aither credentials or environment
# (AITHER_TEST_ARTIFACTS is the tests' own: where they keep screenshots).
_HOME = tempfile.mkdtemp(prefix="aither-test-home-")
os.environ["AITHER_HOME"] = _HOME
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _name in list(os.environ):
    if (
        _name.startswith("AITHER_") and _name not in ("AITHER_HOME", "AITHER_TEST_ARTIFACTS")
    ) or _name.startswith("OTEL_"):
        del os.environ[_name]

sys.path.insert(0, str(Path(__file__).parent))

from receiver import OTLPReceiver  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1 that decodes protobuf and keeps every span."""
    with OTLPReceiver() as r:
        yield r
