"""Parameters and logged metrics after the `baseline_steps` on all local JAX devices.

Run with `XLA_FLAGS=--xla_force_host_platform_device_count=N`; writes `<out>/jax_<N>.npz`.
`compute()` also runs in-process, on whatever devices that process has.
"""

import sys
from pathlib import Path

import jax
import numpy as np
from flax import traverse_util

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import nadamw
from algoperf.workloads import get_workload

sys.path.insert(0, str(Path(__file__).parent))
from baseline_steps import GLOBAL_STEPS, HYPERPARAMETERS, WORKLOAD, global_batches


def compute() -> dict[str, np.ndarray]:
    workload = get_workload(WORKLOAD, "jax")
    logged = {}
    workload.attach_metrics_logger(lambda metrics, step: logged.update({step: dict(metrics)}))
    rng = jax.random.PRNGKey(0)
    hparams = Hyperparameters(HYPERPARAMETERS)
    params, model_state = workload.init_model_fn(rng)
    opt_state = nadamw.SUBMISSION.init_optimizer_state(workload, params, model_state, hparams, rng)
    for step, batch in zip(GLOBAL_STEPS, global_batches(), strict=True):
        opt_state, params, model_state = nadamw.SUBMISSION.update_params(
            workload, params, None, model_state, hparams, workload.place_batch(batch), None,
            opt_state, [], step, jax.random.fold_in(rng, step),
        )  # fmt: skip
    results = {"devices": np.array(jax.device_count())}
    for path, value in traverse_util.flatten_dict(jax.device_get(params)).items():
        results[f"param/{'.'.join(path)}"] = np.asarray(value)
    for step, metrics in logged.items():
        for key, value in metrics.items():
            results[f"{key}/{step}"] = np.asarray(value)
    return results


def main(out: Path) -> None:
    np.savez(out / f"jax_{jax.device_count()}.npz", **compute())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
