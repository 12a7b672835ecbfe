"""Every code block of the submitter's guide (`docs/submitting.md`) runs, in order.

The blocks run in one empty folder, as a reader would type them: `bash` blocks through the
shell with this environment's `algoperf` on PATH, `python` blocks with this Python, and
blocks whose first line is `# file: NAME` are written to NAME. Training commands get small
step counts (`_FAST`) so the guide costs CI about two minutes instead of a dev benchmark's
minutes per command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from algoperf.harness._guide import GUIDE, SECTIONS

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^( *)```(\w*)[^\n]*\n(.*?)^\1```[ \t]*$", re.MULTILINE | re.DOTALL)
_FAST = {
    "algoperf benchmark": "--frameworks pytorch --baselines adamw --studies 1 --trials 1 "
    "--max-steps 10",
    "algoperf run": "--studies 1 --trials 1 --max-steps 10",
}


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, dedented code) of every fenced block."""
    return [(m[2], textwrap.dedent(m[3])) for m in _FENCE.finditer(text)]


def _commands(code: str) -> list[str]:
    """The shell commands of a bash block: continuations joined, comments dropped, sped up."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        command = re.sub(r"(^|\s+)#.*$", "", line).strip()
        if not command:
            continue
        command = " ".join(command.removeprefix("uv run ").split())
        for prefix, flags in _FAST.items():
            if command.startswith(prefix + " "):
                command = f"{command} {flags}"
        commands.append(command)
    return commands


def _run(argv: list[str], folder: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_guide_has_every_section_check_submission_links_to():
    text = (ROOT / GUIDE).read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    assert set(SECTIONS.values()) <= anchors


def test_the_readme_links_the_guide_on_its_first_screen():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])
    assert f"]({GUIDE})" in first_screen


def test_the_blocks_are_found():
    languages = [language for language, _ in _blocks((ROOT / GUIDE).read_text())]
    assert languages.count("bash") >= 5
    assert {"python", "toml"} <= set(languages)
    assert _commands("uv run algoperf run a.py \\\n  --x 1  # note\n# only a comment\n") == [
        f"algoperf run a.py --x 1 {_FAST['algoperf run']}"
    ]


@pytest.mark.slow  # every command of the guide, trials included: about two minutes
def test_every_block_of_the_guide_runs(tmp_path):
    for language, code in _blocks((ROOT / GUIDE).read_text()):
        first, _, rest = code.partition("\n")
        if first.startswith("# file: "):
            (tmp_path / first.removeprefix("# file: ").strip()).write_text(rest)
        elif language == "bash":
            for command in _commands(code):
                _run(["bash", "-e", "-c", command], tmp_path)
        elif language == "python":
            _run([sys.executable, "-c", code], tmp_path)
        else:
            pytest.fail(f"a {language or 'plain'} block the test cannot run:\n{code}")
