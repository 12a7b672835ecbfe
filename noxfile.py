"""Developer and CI sessions; `uv run nox` runs the default ones (what CI runs)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "api_standalone", "scoring_standalone"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
FRAMEWORKS = ("jax", "jaxlib", "torch", "flax", "optax", "tensorflow", "tensorflow_datasets")
NO_FRAMEWORK_CHECK = f"""
import importlib.util, sys
found = [m for m in {FRAMEWORKS!r} if importlib.util.find_spec(m) is not None]
if found:
    sys.exit(f"a deep-learning framework got installed: {{found}}")
print("no deep-learning framework installed")
"""


def _sync(session: nox.Session, *args: str) -> None:
    """Install locked dependencies into the session's virtualenv."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install("uv", "sync", "--locked", *args, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    _sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """basedpyright over the five packages' sources ([tool.basedpyright]), frameworks installed."""
    _sync(session, "--group", "test", "--group", "typecheck")
    python = Path(session.virtualenv.location) / "bin" / "python"
    session.run("basedpyright", "--pythonpath", str(python), *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite against the locked environment (the test group has both frameworks)."""
    _sync(session, "--group", "test")
    # The slowest tests, in every log; `big` full-size models are `nox -s big`'s. Two worker
    # processes (CI's two cores), each test file on one of them (see conftest.py).
    session.run(
        "pytest", "-n", "2", "--dist", "loadgroup", "--durations=10", "-m", "not big",
        *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
def big(session: nox.Session) -> None:
    """The full-size models CI leaves out (about 2 minutes and 11.5 GB of memory each)."""
    _sync(session, "--group", "test")
    session.run("pytest", "--durations=10", "-m", "big", *session.posargs)


def _standalone(session: nox.Session, packages: list[str], import_name: str) -> None:
    """Install only `packages` as built wheels, then import and test them with no framework."""
    with tempfile.TemporaryDirectory() as wheel_dir:
        for package in packages:
            session.run("uv", "build", "--wheel", "--package", package, "--out-dir", wheel_dir)
        wheels = [str(p) for p in Path(wheel_dir).glob("*.whl")]
        session.install(*wheels, "pytest")
    session.run("python", "-c", NO_FRAMEWORK_CHECK)
    session.run("python", "-c", f"import {import_name}; print({import_name}.__name__, 'ok')")
    # The package's own tests, run against the installed wheel rather than the source tree.
    tests_dir = ROOT / "packages" / packages[-1] / "tests"
    session.run("pytest", "-q", "-p", "no:cacheprovider", str(tests_dir))


@nox.session
def api_standalone(session: nox.Session) -> None:
    """`algoperf-api` alone: pydantic and numpy only."""
    _standalone(session, ["algoperf-api"], "algoperf.api")
    session.run("algoperf-api", "schema", "--out", session.create_tmp())


@nox.session
def scoring_standalone(session: nox.Session) -> None:
    """`algoperf-scoring` alone: the api, numpy and nothing from deep learning."""
    _standalone(session, ["algoperf-api", "algoperf-scoring"], "algoperf.scoring")
