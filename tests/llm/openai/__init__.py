import pytest

pytest.importorskip("openai")
