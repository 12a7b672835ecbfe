"""Loss, gradients and eval metrics of the `CASES` workloads on all local JAX devices.

Run with `XLA_FLAGS=--xla_force_host_platform_device_count=N`; writes `<out>/jax_<N>.npz`.
`compute()` also runs in-process, on whatever devices that process has.
"""

import sys
from pathlib import Path

import jax
import numpy as np
from flax import traverse_util

from algoperf.api import ForwardPassMode
from algoperf.workloads import get_workload

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES


def compute() -> dict[str, np.ndarray]:
    results = {"devices": np.array(jax.device_count())}
    for name, (options, batch_size, eval_batch_size) in CASES.items():
        workload = get_workload(name, "jax", **options)
        params, state = workload.init_model_fn(jax.random.PRNGKey(0))
        batch = next(workload.build_input_queue(0, "train", None, batch_size))

        @jax.jit
        def loss_of(params, batch, workload=workload, state=state):
            logits, _ = workload.model_fn(
                params, batch, state, ForwardPassMode.TRAIN, None, True, 0.0
            )
            loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
            return loss["summed"] / loss["n_valid_examples"]

        loss, grads = jax.value_and_grad(loss_of)(params, batch)
        results[f"{name}/loss"] = np.asarray(loss)
        for path, grad in traverse_util.flatten_dict(jax.device_get(grads)).items():
            results[f"{name}/grad/{'.'.join(path)}"] = grad
        for key, value in workload.eval_model(eval_batch_size, params, state, None, None).items():
            results[f"{name}/eval/{key}"] = np.asarray(value)
    return results


def main(out: Path) -> None:
    np.savez(out / f"jax_{jax.device_count()}.npz", **compute())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
