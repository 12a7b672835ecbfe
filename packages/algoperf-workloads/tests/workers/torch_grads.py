"""Loss, gradients and eval metrics of the JAX worker's `CASES` under torchrun (gloo on CPU).

Run as `torchrun --nproc-per-node N torch_grads.py OUT`; rank 0 writes `<OUT>/torch_<N>.npz`.
`compute()` also runs in a plain single process.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from algoperf.api import ForwardPassMode
from algoperf.workloads import get_workload
from algoperf.workloads.torch_base import init_distributed, shutdown_distributed

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES


def compute() -> dict[str, np.ndarray]:
    runtime = init_distributed()
    results = {"devices": np.array(runtime.world_size)}
    for name, (options, batch_size, eval_batch_size) in CASES.items():
        workload = get_workload(name, "pytorch", **options)
        model, state = workload.init_model_fn(0)
        batch = next(workload.build_input_queue(0, "train", None, batch_size))  # rank's slice
        logits, _ = workload.model_fn(model, batch, state, ForwardPassMode.TRAIN, None, True, 0.0)
        loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
        totals = torch.stack([loss["summed"], loss["n_valid_examples"]]).detach()
        if runtime.world_size > 1:
            dist.all_reduce(totals)
        # Ranks may hold different numbers of valid labels (ogbg): scale so that DDP's
        # gradient average is the gradient of the global mean loss.
        (loss["summed"] * runtime.world_size / totals[1]).backward()
        results[f"{name}/loss"] = (totals[0] / totals[1]).numpy()
        for key, param in model.named_parameters():
            results[f"{name}/grad/{key.removeprefix('module.')}"] = param.grad.numpy()
        for key, value in workload.eval_model(eval_batch_size, model, state, None, None).items():
            results[f"{name}/eval/{key}"] = np.asarray(value)
    return results


def main(out: Path) -> None:
    torch.set_num_threads(1)
    results = compute()
    if dist.get_rank() == 0:
        np.savez(out / f"torch_{dist.get_world_size()}.npz", **results)
    shutdown_distributed()  # else a rank can abort at exit and fail torchrun


if __name__ == "__main__":
    main(Path(sys.argv[1]))
