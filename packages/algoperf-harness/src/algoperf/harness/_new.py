"""`algoperf new`: a working, commented submission to start from, and its search space.

The templates (`templates/`) are complete submissions (AdamW with warmup + cosine), type- and
lint-checked with the rest of the package; writing one only renames it and, for self-tuning,
drops the search space.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from algoperf.api import AlgoPerfError, Framework, Ruleset

_PLACEHOLDER = "my_submission"
_EXTERNAL_DECLARATION = (
    "REQUIRED_HYPERPARAMETERS = tuple(DEFAULT_HYPERPARAMETERS)  # checked against the search space"
)
_SELF_DECLARATION = "REQUIRED_HYPERPARAMETERS = ()  # self-tuning: no search space, the defaults"


def search_space_file(submission: Path) -> Path:
    """Where `algoperf new` puts the search space of `submission`: `<stem>_search_space.json`."""
    return submission.with_name(f"{submission.stem}_search_space.json")


def write_submission(
    name: str, framework: Framework, ruleset: Ruleset, folder: Path, *, force: bool = False
) -> list[Path]:
    """Write `<folder>/<name>.py` (and its search space for external tuning); the paths.

    Raises:
        AlgoPerfError: `name` is not a Python identifier, or a file exists and not `force`.
    """
    if not name.isidentifier():
        raise AlgoPerfError(
            f"{name!r}: the submission's name must be a Python identifier (it names the file "
            "and the records), e.g. my_adamw"
        )
    templates = resources.files("algoperf.harness") / "templates"
    source = (templates / f"{Framework(framework).value}_submission.py").read_text()
    path = folder / f"{name}.py"
    files = {path: source.replace(_PLACEHOLDER, name)}
    if Ruleset(ruleset) is Ruleset.EXTERNAL:
        files[search_space_file(path)] = (templates / "search_space.json").read_text()
    else:
        text = files[path].replace(_EXTERNAL_DECLARATION, _SELF_DECLARATION)
        files[path] = text.replace(f" \\\n        --search-space {name}_search_space.json", "")
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise AlgoPerfError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        file.write_text(text)
    return list(files)
