"""Steady-state training-step time per workload and framework, and the input pipeline's pace.

For each workload: the seconds per NAdamW training step on synthetic data in JAX and in
PyTorch (the bare loop of `harness_overhead.py`: data selection, update, device sync; the
first steps, which compile, excluded), their ratio, and how many examples per second the
numpy input pipeline produces against how many the model consumes (pipeline/consumption > 1:
the pipeline keeps up). On a CPU the default workloads are the small ones at small batches;
on a GPU pass `--baseline-batch-sizes` and the workloads to time.

    OMP_NUM_THREADS=1 uv run python benchmarks/step_time.py [--workloads ...] [--batch-size N]

The language model (`finewebedu_lm`) also reports tokens per second and, given the
accelerator's peak (`--peak-tflops`, dense bf16), the model FLOPs utilisation
6 · N · tokens/s / peak (N: parameters; attention's L² term left out, as usual). On a CPU it
runs at `--lm-config` (default: a 2-layer width-128 float32 toy); `--lm-config '{}'` is full size.
"""

from __future__ import annotations

import argparse
import json
import time

from harness_overhead import bare_loop_seconds_per_step, rules_for

from algoperf.baselines import submission_path
from algoperf.workloads import get_workload, implemented_workloads

CPU_WORKLOADS = ("digits_mlp", "digits_cnn", "mnist", "cifar", "ogbg", "criteo1tb_test")
CPU_BATCH_SIZE = 64
LM = "finewebedu_lm"
LM_CPU_CONFIG = {
    "model_dim": 128,
    "num_heads": 2,
    "num_layers": 2,
    "vocab_size": 4096,
    "seq_len": 128,
}
"""The LM's size on a CPU (full size takes minutes per step there)."""


def pipeline_examples_per_second(
    name: str, batch_size: int, batches: int = 50, **options: object
) -> float:
    """Examples per second of the workload's numpy training batches (synthetic data)."""
    workload = get_workload(name, "pytorch", rules_for(name), synthetic=True, **options)
    queue = workload.numpy_batches(0, "train", None, batch_size)
    next(queue)
    started = time.perf_counter()
    for _ in range(batches):
        next(queue)
    return batches * batch_size / (time.perf_counter() - started)


def baseline_batch_size(name: str) -> int:
    from algoperf import api

    submission = api.load_submission(submission_path("nadamw", "pytorch"))
    return submission.get_batch_size(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(CPU_WORKLOADS))
    parser.add_argument("--frameworks", nargs="+", default=["jax", "pytorch"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=CPU_BATCH_SIZE)
    parser.add_argument(
        "--baseline-batch-sizes", action="store_true", help="the baselines' batch sizes (GPU)"
    )
    parser.add_argument(
        "--lm-config", type=json.loads, default=LM_CPU_CONFIG, help="JSON model_config of the LM"
    )
    parser.add_argument("--peak-tflops", type=float, help="the accelerator's dense bf16 peak")
    args = parser.parse_args()
    header = f"{'workload':<16} {'batch':>7}"
    header += "".join(f" {fw + ' ms/step':>16}" for fw in args.frameworks)
    if len(args.frameworks) == 2:
        header += f" {'jax/pytorch':>11}"
    header += f" {'pipeline ex/s':>14} {'model ex/s':>11} {'ratio':>7}"
    print(header)
    for name in args.workloads:
        if name not in implemented_workloads():
            print(f"{name:<16} (not implemented)")
            continue
        batch_size = baseline_batch_size(name) if args.baseline_batch_sizes else args.batch_size
        options = {"model_config": args.lm_config} if name == LM else {}
        times = {
            fw: bare_loop_seconds_per_step(name, fw, args.steps, batch_size, **options)
            for fw in args.frameworks
        }
        row = f"{name:<16} {batch_size:>7}"
        row += "".join(f" {times[fw] * 1e3:>16.2f}" for fw in args.frameworks)
        if len(args.frameworks) == 2:
            row += f" {times['jax'] / times['pytorch']:>11.2f}"
        produced = pipeline_examples_per_second(name, batch_size, **options)
        consumed = batch_size / min(times.values())
        row += f" {produced:>14,.0f} {consumed:>11,.0f} {produced / consumed:>7.1f}"
        print(row, flush=True)
        if name == LM:
            print(lm_throughput(args.lm_config, batch_size, times, args.peak_tflops), flush=True)


def lm_throughput(
    model_config: dict, batch_size: int, times: dict[str, float], peak_tflops: float | None
) -> str:
    """Tokens per second per framework, and the model FLOPs utilisation given the peak."""
    from algoperf.workloads.finewebedu_lm.config import FULL, config_from

    config = config_from(FULL, model_config)
    lines = []
    for fw, seconds in times.items():
        tokens = batch_size * config.seq_len / seconds
        line = f"  {LM} {fw}: {tokens:,.0f} tokens/s ({config.num_params:,} parameters)"
        if peak_tflops:
            mfu = 6 * config.num_params * tokens / (peak_tflops * 1e12)
            line += f", MFU {mfu:.1%} of {peak_tflops:g} TFLOP/s"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
