"""Checks of a submission against the framework it is run in, before any trial starts."""

from __future__ import annotations

import re
import types
from pathlib import Path

from algoperf.api import Framework, Submission
from algoperf.harness._trial import ContractError

_ROOTS = {
    "jax": Framework.JAX,
    "flax": Framework.JAX,
    "optax": Framework.JAX,
    "torch": Framework.PYTORCH,
}
_IMPORT = re.compile(r"^\s*(?:import|from)\s+(jax|flax|optax|torch)\b", re.MULTILINE)


def framework_of_file(path: Path) -> Framework | None:
    """The one framework a submission file imports at the start of a line; None if not one."""
    used = {_ROOTS[m] for m in _IMPORT.findall(path.read_text())}
    return used.pop() if len(used) == 1 else None


def frameworks_used(submission: Submission) -> set[Framework]:
    """The frameworks the submission's file imports (from its source and its globals)."""
    used = {_ROOTS[m] for m in _IMPORT.findall(submission.path.read_text())}
    for value in vars(submission.module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else None
        name = name or getattr(value, "__module__", None) or ""
        root = name.partition(".")[0]
        if root in _ROOTS:
            used.add(_ROOTS[root])
    return used


def check_framework(submission: Submission, framework: Framework) -> None:
    """Raise if the submission is written for the other framework only.

    Raises:
        ContractError: naming the file, the framework it imports and the option to use.
    """
    used = frameworks_used(submission)
    if used and Framework(framework) not in used:
        [other] = used
        raise ContractError(
            f"{submission.path}: a {other.value} submission (it imports {other.value}, not "
            f"{Framework(framework).value}); run it with --framework {other.value}"
        )
