"""Sessions: lint, typecheck, tests (everything), tests_core (no framework), one per framework,
reliability, bench.

``nox`` alone runs the default sessions: the README's test command, and what ``.ci/run`` runs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "tests_core", "tests-gemini-legacy"]

CONSTRAINTS = ("-c", "constraints.txt")  # torch pinned to the CPU wheel (see constraints.txt)


def _frameworks_table() -> ModuleType:
    """``aither/frameworks.py`` loaded by path: nox runs outside aither's environment, and the
    table needs only the standard library."""
    path = Path(__file__).parent / "aither" / "frameworks.py"
    spec = importlib.util.spec_from_file_location("_aither_frameworks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up while building the rows
    spec.loader.exec_module(module)
    return module


# Session -> (extras, test paths): one ``tests-<session>`` per group of rows of the framework
# table (aither/frameworks.py), plus the server's; ``tests`` runs them all at once.
SESSIONS: dict[str, tuple[str, str]] = {
    name: (",".join(extras), " ".join(paths))
    for name, (extras, paths) in _frameworks_table().sessions().items()
}
SESSIONS["server"] = ("server,postgres,clickhouse,sklearn", "tests/server tests/api tests/e2e tests/cli")


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
    """Every test, with every framework installed, and the coverage report: below the floor in
    pyproject's ``[tool.coverage.report] fail_under``, the session fails."""
    _install(session, "all,dev")
    session.run("pytest", "--cov", "--cov-report=term", *session.posargs)


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


for _framework, (_extras, _paths) in SESSIONS.items():
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
