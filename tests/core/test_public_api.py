from __future__ import annotations

import subprocess
import sys

import aither

PUBLIC_API = {
    "APIError",
    "APIKey",
    "AitherError",
    "AmbiguousLabel",
    "AnomalyType",
    "ArgumentTypeError",
    "AsyncAither",
    "AuthenticationError",
    "Client",
    "ConfigError",
    "Conflict",
    "CreatedAPIKey",
    "DeliveryError",
    "DetectionMethod",
    "FrameworkNotInstalled",
    "InvalidTraceId",
    "LLMCall",
    "NotFound",
    "Organization",
    "PermissionDenied",
    "RateLimited",
    "RiskLevel",
    "SampleLimits",
    "ServerError",
    "ServerUnreachable",
    "Severity",
    "Stats",
    "TrackedModel",
    "Usage",
    "User",
    "__version__",
    "anomalies",
    "api_keys",
    "close",
    "context",
    "flush",
    "init",
    "langchain_handler",
    "last_trace_id",
    "log_event",
    "log_label",
    "log_llm_call",
    "log_prediction",
    "org",
    "set_reference",
    "span",
    "stats",
    "track",
    "unwrap",
    "user",
    "wrap",
}


def test_all_is_exactly_the_public_api_and_sorted() -> None:
    exported = set(aither.__all__)
    assert exported == PUBLIC_API
    assert list(aither.__all__) == sorted(aither.__all__)
    for name in aither.__all__:
        assert hasattr(aither, name), name


def test_every_public_name_is_importable_and_nothing_private_leaks() -> None:
    public = {n for n in dir(aither) if not n.startswith("_")}
    # subpackages are reachable as attributes once imported; they are not API
    modules = {n for n in public if type(getattr(aither, n)).__name__ == "module"}
    assert public - modules - set(aither.__all__) == set()


def test_import_aither_imports_no_framework() -> None:
    code = (
        "import sys, aither\n"
        "heavy = ['numpy', 'pandas', 'polars', 'sklearn', 'torch', 'tensorflow', 'keras', 'transformers',"
        " 'tinygrad', 'xgboost', 'lightgbm', 'catboost', 'openai', 'anthropic', 'google.genai', 'fastapi',"
        " 'sqlalchemy', 'uvicorn']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_is_a_string() -> None:
    assert isinstance(aither.__version__, str) and aither.__version__.count(".") >= 2


def test_management_api_is_imported_at_first_use() -> None:
    code = (
        "import sys, aither\n"
        "before = 'aither.api' in sys.modules\n"
        "org, key = aither.org, aither.APIKey\n"
        "from aither.api import OrgResource, APIKey, AsyncManagementClient\n"
        "print(before, type(org) is OrgResource, key is APIKey,"
        " aither.AsyncAither is AsyncManagementClient)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True", "True"]


def test_unknown_attribute_is_an_attribute_error() -> None:
    assert not hasattr(aither, "no_such_name")
