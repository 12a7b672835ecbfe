import json
import subprocess
import sys

import pytest

from algoperf.api._cli import cli, json_schemas


def test_schema_export_writes_every_format(tmp_path, capsys):
    assert cli(["schema", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(json_schemas())
    trial = json.loads((tmp_path / "trial.schema.json").read_text())
    assert trial["title"] == "TrialFile"
    spec = trial["$defs"]["TrialSpec"]
    assert {"submission", "workload", "seed", "hardware"} <= set(spec["required"])
    # Attribute docstrings reach the schema.
    assert "Registered workload name" in spec["properties"]["workload"]["description"]
    space = json.loads((tmp_path / "search_space.schema.json").read_text())
    assert "anyOf" in space
    assert str(tmp_path / "trial.schema.json") in capsys.readouterr().out


@pytest.mark.slow
def test_schema_to_stdout_through_the_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "algoperf.api", "schema"], check=True, capture_output=True, text=True
    ).stdout
    assert set(json.loads(out)) == set(json_schemas())
