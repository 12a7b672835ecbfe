"""Beam-search decode time of wmt's eval: the seconds to translate N sentences, per framework.

Decoding is part of eval, outside the submission's time, but it decides how long a trial
takes in wall-clock: every eval translates eval_train (3,072), validation (3,000) and test
(3,003) with beam 4 up to 256 tokens. This times `workload.translate` on synthetic sentences
(random ids, so an untrained model decodes to the maximum length: the worst case) in eval
batches of 128, after one warm-up batch that compiles; the reported time extrapolates to the
3,000 validation sentences. At full size it needs a GPU; `--reduced` times the CI model.

    OMP_NUM_THREADS=1 uv run python benchmarks/wmt_decode.py [--sentences 256] [--reduced]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from algoperf.workloads import get_workload
from algoperf.workloads.wmt.config import TINY

VALIDATION = 3_000


def seconds_per_sentence(framework: str, sentences: int, batch: int, reduced: bool) -> float:
    """Wall-clock seconds of beam search per sentence, after a compiling warm-up batch."""
    options = {"model_config": dict(TINY)} if reduced else {}
    workload = get_workload("wmt", framework, synthetic=True, **options)
    rng = 0 if framework == "pytorch" else __import__("jax").random.PRNGKey(0)
    params, _ = workload.init_model_fn(rng)
    config = workload.config  # type: ignore[attr-defined]
    ids = np.random.default_rng(0).integers(3, config.vocab_size, (batch, config.max_len))
    ids[:, config.max_len // 2 :] = 0  # half-length sources
    chunk = {"inputs": ids.astype(np.int32), "targets": ids.astype(np.int32)}
    workload.translate(params, chunk)  # type: ignore[attr-defined]
    started = time.perf_counter()
    done = 0
    while done < sentences:
        workload.translate(params, chunk)  # type: ignore[attr-defined]
        done += batch
    return (time.perf_counter() - started) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=["jax", "pytorch"])
    parser.add_argument("--sentences", type=int, default=256, help="sentences timed")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--reduced", action="store_true", help="the CI model (for a CPU)")
    args = parser.parse_args()
    size = "reduced" if args.reduced else "full-size"
    print(f"wmt beam search (beam 4), {size} model, batches of {args.batch_size}")
    print(f"{'framework':<10} {'ms/sentence':>12} {'validation (3,000) s':>21}")
    for framework in args.frameworks:
        s = seconds_per_sentence(framework, args.sentences, args.batch_size, args.reduced)
        print(f"{framework:<10} {s * 1e3:>12.2f} {s * VALIDATION:>21.1f}", flush=True)


if __name__ == "__main__":
    main()
