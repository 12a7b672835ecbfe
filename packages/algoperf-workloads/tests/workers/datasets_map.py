"""Runs `datasets.Dataset.map(batched=True, num_proc=...)` jobs in an interpreter of its own.

The map forks its worker processes, and a pytest worker that has loaded JAX (for other test
files) warns, rightly, that a fork of its threads may deadlock: test_lm_prepare runs its
independent re-implementations of the reference's chunking here instead.

Usage: python datasets_map.py JOBS.json OUT.json. Each job is {"column", "batch_size",
"num_proc", "row_tokens"}: with row_tokens null the output is each batch's [first, last + 1)
of an index column; otherwise `column` holds token lists, and each batch's tokens are
concatenated and cut into rows of row_tokens, the remainder dropped unless the batch holds
less than one row (the reference's `concat_chunck`).
"""

import json
import sys
from pathlib import Path

import datasets


def run(job: dict) -> list:
    row = job["row_tokens"]

    def bounds(batch: dict) -> dict:
        return {"out": [[batch["x"][0], batch["x"][-1] + 1]]}

    def chunk(batch: dict) -> dict:
        flat = [token for doc in batch["x"] for token in doc]
        kept = len(flat) if len(flat) < row else len(flat) // row * row
        return {"out": [flat[i : i + row] for i in range(0, kept, row)]}

    mapped = datasets.Dataset.from_dict({"x": job["column"]}).map(
        bounds if row is None else chunk,
        batched=True,
        batch_size=job["batch_size"],
        num_proc=job["num_proc"] if job["num_proc"] > 1 else None,
        remove_columns=["x"],
    )
    return mapped.to_dict()["out"]


if __name__ == "__main__":
    jobs = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps([run(job) for job in jobs]))
