import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # every model and tokenizer here is built in the test; never download
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
pytest.importorskip("torch")
pytest.importorskip("tokenizers")
pytest.importorskip("transformers")
