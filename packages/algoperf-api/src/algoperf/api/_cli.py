"""`algoperf-api`: export the JSON Schemas of the record and search-space formats."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from algoperf.api._records import EvalRecord, TrialFile, TrialOutcome, TrialSpec
from algoperf.api._search_space import TuningSpace


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each on-disk format, by file name."""
    return {
        "trial.schema.json": TrialFile.model_json_schema(),
        "trial_spec.schema.json": TrialSpec.model_json_schema(),
        "eval_record.schema.json": EvalRecord.model_json_schema(),
        "trial_outcome.schema.json": TrialOutcome.model_json_schema(),
        "search_space.schema.json": TypeAdapter(TuningSpace).json_schema(),
    }


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="algoperf-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="write the JSON Schemas of the file formats")
    schema.add_argument(
        "--out", type=Path, help="folder to write *.schema.json into (default: print)"
    )
    args = parser.parse_args(argv)

    schemas = json_schemas()
    if args.out is None:
        json.dump(schemas, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in schemas.items():
        (args.out / name).write_text(json.dumps(content, indent=2) + "\n")
        print(args.out / name)
    return 0


def cli_exit() -> None:
    """Console-script entry point."""
    sys.exit(cli())
