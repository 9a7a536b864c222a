import warnings

import pytest

# google.generativeai warns at import that Google ended it; that is why aither supports it
# apart (extra gemini-legacy, session tests-gemini-legacy), not a failure of these tests.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("google.generativeai")
