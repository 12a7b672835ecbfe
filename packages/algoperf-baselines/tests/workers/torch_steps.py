"""Parameters and logged metrics after the `baseline_steps` under torchrun (gloo on CPU).

Run as `torchrun --nproc-per-node N torch_steps.py OUT`; rank 0 writes `<OUT>/torch_<N>.npz`.
`compute()` also runs in a plain single process. Each rank places its own slice of every
global batch, as the workload's input queue does.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from algoperf.api import Hyperparameters
from algoperf.baselines.pytorch import nadamw
from algoperf.workloads import get_workload
from algoperf.workloads.torch_base import init_distributed, shutdown_distributed

sys.path.insert(0, str(Path(__file__).parent))
from baseline_steps import GLOBAL_STEPS, HYPERPARAMETERS, WORKLOAD, global_batches


def compute() -> dict[str, np.ndarray]:
    runtime = init_distributed()
    workload = get_workload(WORKLOAD, "pytorch")
    logged = {}
    workload.attach_metrics_logger(lambda metrics, step: logged.update({step: dict(metrics)}))
    hparams = Hyperparameters(HYPERPARAMETERS)
    model, model_state = workload.init_model_fn(0)
    opt_state = nadamw.init_optimizer_state(workload, model, model_state, hparams, None)
    for step, batch in zip(GLOBAL_STEPS, global_batches(), strict=True):
        opt_state, model, model_state = nadamw.update_params(
            workload, model, None, model_state, hparams, workload.place_batch(batch), None,
            opt_state, [], step, None,
        )  # fmt: skip
    results = {"devices": np.array(runtime.world_size)}
    for key, param in model.named_parameters():
        results[f"param/{key.removeprefix('module.')}"] = param.detach().cpu().numpy()
    for step, metrics in logged.items():
        for key, value in metrics.items():
            results[f"{key}/{step}"] = np.asarray(value)
    return results


def main(out: Path) -> None:
    torch.set_num_threads(1)
    # Deprecated torch APIs used by the baselines fail the run (as pytest's settings would).
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("error", category=category, module=r"algoperf\.")
    results = compute()
    if dist.get_rank() == 0:
        np.savez(out / f"torch_{dist.get_world_size()}.npz", **results)
    shutdown_distributed()  # else a rank can abort at exit and fail torchrun


if __name__ == "__main__":
    main(Path(sys.argv[1]))
