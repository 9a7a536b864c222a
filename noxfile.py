"""Sessions: lint, typecheck, tests (everything), tests_core (no framework), one per framework,
reliability, bench.

``nox`` alone runs the default sessions: the README's test command, and what ``.ci/run`` runs.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "tests_core", "tests-gemini-legacy"]

CONSTRAINTS = ("-c", "constraints.txt")  # torch pinned to the CPU wheel (see constraints.txt)

# One table: framework -> the extra that installs it and the test folder that covers it.
# Each row becomes a session ``tests-<framework>``; ``tests`` runs them all at once.
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn,numpy,pandas,polars", "tests/core"),
    "torch": ("torch", "tests/frameworks/torch"),
    "tensorflow": ("tensorflow", "tests/frameworks/tensorflow"),
    "transformers": ("transformers", "tests/frameworks/transformers"),
    "tinygrad": ("tinygrad", "tests/frameworks/tinygrad"),
    "boosting": ("xgboost,lightgbm,catboost", "tests/frameworks/boosting"),
    "scipy": ("scipy", "tests/frameworks/scipy"),
    "llm": ("openai,anthropic,gemini", "tests/llm tests/agents"),
    "langchain": ("langchain", "tests/integrations"),
    # google.generativeai needs an older protobuf than tensorflow-cpu: never installed with `all`
    "gemini-legacy": ("gemini-legacy,server", "tests/llm/gemini_legacy"),
    "server": ("server,postgres,clickhouse,sklearn", "tests/server tests/api tests/e2e tests/cli"),
}


def _install(session: nox.Session, extras: str) -> None:
    session.install("--upgrade", "pip")
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "aither", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "aither", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session, "dev,server,langchain,dotenv")  # the optional integrations mypy reads
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """Every test, with every framework installed."""
    _install(session, "all,dev")
    session.run("pytest", *session.posargs)


@nox.session(name="tests_core")
def tests_core(session: nox.Session) -> None:
    """Only the core dependencies: ``import aither`` and the core API work with no framework."""
    session.install("--upgrade", "pip")
    session.install(
        "-e", ".", "pytest>=8", "pytest-asyncio>=0.23", "pytest-timeout>=2.3", "opentelemetry-proto>=1.30"
    )
    session.run("python", "-c", "import aither, sys; assert 'numpy' not in sys.modules")
    session.run(
        "pytest",
        "tests/core",
        "tests/agents",
        "tests/frameworks/test_import_gating.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
    )


def _framework_session(framework: str, extras: str, paths: str) -> None:
    @nox.session(name=f"tests-{framework}")
    def run(session: nox.Session) -> None:
        _install(session, f"{extras},dev")
        session.run("pytest", *paths.split(), *session.posargs)


for _framework, (_extras, _paths) in FRAMEWORKS.items():
    _framework_session(_framework, _extras, _paths)


@nox.session
def reliability(session: nox.Session) -> None:
    """The reliability suite alone, slow tests included: misbehaving receivers, fork, threads,
    asyncio, fault injection, init/close cycles (SDK), and the server's own."""
    _install(session, "all,dev")
    session.run("pytest", "tests/reliability", "-m", "slow or not slow", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Overhead and throughput benchmarks (never in CI): prints medians and ratios."""
    _install(session, "all,dev")
    session.run("python", "-m", "benchmarks", *session.posargs)
