import os
import shutil

import pytest

pytest.importorskip("tinygrad")
if "DEV" not in os.environ and shutil.which(os.environ.get("CC", "clang")) is None:
    pytest.skip(
        "tinygrad's CPU device compiles its kernels with clang, which is not installed",
        allow_module_level=True,
    )
