import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
pytest.importorskip("tensorflow")
pytest.importorskip("keras")
