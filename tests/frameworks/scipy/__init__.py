import pytest

pytest.importorskip("scipy")
pytest.importorskip("sklearn")
