import pytest

pytest.importorskip("google.genai")
