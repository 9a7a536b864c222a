"""The one table of the frameworks aither knows: one row per module root.

Everything that lists frameworks reads this table: the adapter registry
(:mod:`aither.adapters.registry`), the sampler dispatch (:mod:`aither.sampling.dispatch`), the
import-gating test (``tests/frameworks/test_import_gating.py``) and the nox sessions
(``noxfile.py``). What cannot import Python (the extras and the mypy overrides in
``pyproject.toml``) is checked against it by ``tests/core/test_frameworks_table.py``.

Adding a framework is one row here (plus its adapter or sampler module, its extra and its tests).
The table holds import strings only: reading it never imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FRAMEWORKS", "Framework", "by_root", "sessions"]


@dataclass(frozen=True)
class Framework:
    """One module root: who traces its models, who samples its values, what installs it.

    Attributes:
        root: The module a class's ``__module__`` starts with (``"torch"``), or a dotted
            sub-package when one top-level package holds several SDKs (``"google.generativeai"``).
        extra: The ``aither[extra]`` that installs it; named by ``FrameworkNotInstalled``.
        tests: The test folders (or files) that cover it.
        session: The nox session ``tests-<session>`` that runs those tests; several rows share one.
        adapter: ``"module:Class"`` of the adapter that wraps its models, or None (data only).
        sampler: ``"module:function"`` of the sampler of its values, or None.
        model_module: A module a real model class of it lives in: the import-gating test builds
            a lookalike class there. Required with an adapter.
        composed: True when it has no model base class: a plain object holding its layers or
            tensors is its model (see :func:`aither.adapters.registry.adapter_for`).
        session_extras: Extras its tests need besides its own (a server, another framework).
    """

    root: str
    extra: str
    tests: tuple[str, ...]
    session: str
    adapter: str | None = None
    sampler: str | None = None
    model_module: str | None = None
    composed: bool = False
    session_extras: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        """The top-level package, as ``sys.modules`` and mypy name it."""
        return self.root.partition(".")[0]


_CORE = ("tests/core",)
_LLM = ("tests/llm", "tests/agents")

FRAMEWORKS: tuple[Framework, ...] = (
    # Data libraries: sampled, never wrapped. Their tests are the core sampling tests.
    Framework("numpy", "numpy", _CORE, "sklearn", sampler="aither.sampling.numpy:sample_numpy"),
    Framework("pandas", "pandas", _CORE, "sklearn", sampler="aither.sampling.pandas:sample_pandas"),
    Framework("polars", "polars", _CORE, "sklearn", sampler="aither.sampling.polars:sample_polars"),
    Framework(
        "scipy", "scipy", ("tests/frameworks/scipy",), "scipy", sampler="aither.sampling.scipy:sample_scipy"
    ),
    # Classic ML.
    Framework(
        "sklearn",
        "sklearn",
        _CORE,
        "sklearn",
        adapter="aither.adapters.sklearn:SklearnAdapter",
        model_module="sklearn.ensemble._forest",
    ),
    Framework(
        "xgboost",
        "xgboost",
        ("tests/frameworks/boosting",),
        "boosting",
        adapter="aither.adapters.boosting:XGBoostAdapter",
        sampler="aither.sampling.boosting:sample_boosting",
        model_module="xgboost.core",
    ),
    Framework(
        "lightgbm",
        "lightgbm",
        ("tests/frameworks/boosting",),
        "boosting",
        adapter="aither.adapters.boosting:LightGBMAdapter",
        sampler="aither.sampling.boosting:sample_boosting",
        model_module="lightgbm.basic",
    ),
    Framework(
        "catboost",
        "catboost",
        ("tests/frameworks/boosting",),
        "boosting",
        adapter="aither.adapters.boosting:CatBoostAdapter",
        sampler="aither.sampling.boosting:sample_boosting",
        model_module="catboost.core",
    ),
    # Deep learning.
    Framework(
        "torch",
        "torch",
        ("tests/frameworks/torch",),
        "torch",
        adapter="aither.adapters.torch:TorchAdapter",
        sampler="aither.sampling.torch:sample_torch",
        model_module="torch.nn.modules.module",
    ),
    Framework(
        "tensorflow",
        "tensorflow",
        ("tests/frameworks/tensorflow",),
        "tensorflow",
        adapter="aither.adapters.tensorflow:KerasAdapter",
        sampler="aither.sampling.tensorflow:sample_tensorflow",
        model_module="tensorflow.python.module.module",
    ),
    Framework(
        "keras",
        "tensorflow",
        ("tests/frameworks/tensorflow",),
        "tensorflow",
        adapter="aither.adapters.tensorflow:KerasAdapter",
        sampler="aither.sampling.tensorflow:sample_tensorflow",
        model_module="keras.src.models.model",
    ),
    Framework(
        "tf_keras",
        "tensorflow",
        ("tests/frameworks/tensorflow",),
        "tensorflow",
        adapter="aither.adapters.tensorflow:KerasAdapter",
        model_module="tf_keras.src.engine.training",
    ),
    Framework(
        "transformers",
        "transformers",
        ("tests/frameworks/transformers",),
        "transformers",
        adapter="aither.adapters.transformers:TransformersAdapter",
        model_module="transformers.modeling_utils",
    ),
    Framework(
        "tinygrad",
        "tinygrad",
        ("tests/frameworks/tinygrad",),
        "tinygrad",
        adapter="aither.adapters.tinygrad:TinygradAdapter",
        sampler="aither.sampling.tinygrad:sample_tinygrad",
        model_module="tinygrad.nn",
        composed=True,
    ),
    # LLM SDKs: the client is the "model".
    Framework(
        "openai",
        "openai",
        _LLM,
        "llm",
        adapter="aither.adapters.llm.openai:OpenAIAdapter",
        model_module="openai._client",
    ),
    Framework(
        "anthropic",
        "anthropic",
        _LLM,
        "llm",
        adapter="aither.adapters.llm.anthropic:AnthropicAdapter",
        model_module="anthropic._client",
    ),
    # ``google`` holds two SDKs: google.genai (this row) and the legacy google.generativeai.
    Framework(
        "google",
        "gemini",
        _LLM,
        "llm",
        adapter="aither.adapters.llm.gemini:GeminiAdapter",
        model_module="google.genai.client",
    ),
    # The legacy SDK needs an older protobuf than tensorflow-cpu's: never installed with `all`.
    Framework(
        "google.generativeai",
        "gemini-legacy",
        ("tests/llm/gemini_legacy",),
        "gemini-legacy",
        adapter="aither.adapters.llm.gemini_legacy:GeminiLegacyAdapter",
        model_module="google.generativeai.generative_models",
        session_extras=("server",),
    ),
    # Integrations: a callback handler the user installs; nothing is looked up by type.
    Framework("langchain_core", "langchain", ("tests/integrations",), "langchain"),
)
"""Every framework, one row per module root."""


def by_root() -> dict[str, Framework]:
    """The rows by :attr:`Framework.root` (every root is unique; a test checks it)."""
    return {row.root: row for row in FRAMEWORKS}


def sessions() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """``session -> (extras, test paths)``, in table order, for the ``tests-<session>`` nox sessions."""
    grouped: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for row in FRAMEWORKS:
        extras, paths = grouped.get(row.session, ((), ()))
        extras += tuple(e for e in (row.extra, *row.session_extras) if e not in extras)
        paths += tuple(p for p in row.tests if p not in paths)
        grouped[row.session] = (extras, paths)
    return grouped
