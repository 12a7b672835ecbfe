"""Workspace conventions: PEP 420 namespace, one version per package, light imports."""

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if p.is_dir())
FRAMEWORKS = ("jax", "flax", "optax", "torch", "tensorflow", "tensorflow_datasets")


def test_the_five_packages():
    assert PACKAGES == [
        "algoperf-api",
        "algoperf-baselines",
        "algoperf-harness",
        "algoperf-scoring",
        "algoperf-workloads",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_src_layout_under_the_shared_namespace(package):
    sub = package.removeprefix("algoperf-")
    meta = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    assert meta["project"]["name"] == package
    assert meta["project"]["version"] == "0.1.0"
    assert meta["tool"]["uv"]["build-backend"]["module-name"] == f"algoperf.{sub}"
    src = ROOT / "packages" / package / "src"
    assert (src / "algoperf" / sub / "__init__.py").is_file()
    # PEP 420: no package may own the namespace.
    assert not (src / "algoperf" / "__init__.py").exists()


@pytest.mark.parametrize("package", PACKAGES)
def test_frameworks_are_extras_only(package):
    meta = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    for requirement in meta["project"]["dependencies"]:
        name = requirement.split(">")[0].split("=")[0].split("[")[0].strip().replace("-", "_")
        assert name not in FRAMEWORKS, f"{package} requires {requirement} outside an extra"


@pytest.mark.slow
@pytest.mark.parametrize("module", ["algoperf.api", "algoperf.scoring"])
def test_light_packages_import_no_framework(module):
    code = f"import sys, {module}; print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_resolve(package):
    module = importlib.import_module(f"algoperf.{package.removeprefix('algoperf-')}")
    assert module.__doc__
    for name in getattr(module, "__all__", ()):
        assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"
