"""The NAdamW baseline trains the language model (`finewebedu_lm`, toy size) in both frameworks.

A smoke test of the submission functions on the LM's batches ((B, L) token inputs, targets
and per-token weights) and its bf16 model: a few steps on synthetic tokens, then an eval.
Random tokens carry nothing to learn, so the check is that training runs, moves every
parameter, keeps the loss near log(V) and reports ppl = exp(loss).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
import torch

from algoperf.api import Hyperparameters, load_submission
from algoperf.baselines import submission_path
from algoperf.workloads import get_workload

TOY = dict(model_dim=32, num_heads=2, num_layers=1, vocab_size=64, seq_len=16, mlp_dim=64)
BATCH_SIZE, STEPS = 8, 3
HPARAMS = Hyperparameters(
    dict(
        learning_rate=3e-3,
        one_minus_beta1=0.1,
        beta2=0.999,
        weight_decay=0.1,
        warmup_factor=0.02,
        label_smoothing=0.0,
        dropout_rate=0.0,
    )
)


def _flat(framework: str, params) -> list[np.ndarray]:
    if framework == "jax":
        return [np.asarray(p, np.float32) for p in jax.tree.leaves(params)]
    return [p.detach().float().numpy().copy() for p in params.parameters()]


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_nadamw_trains_the_toy_language_model(framework: str) -> None:
    workload = get_workload(
        "finewebedu_lm", framework, rules="v0.6-lm", synthetic=True, model_config=TOY
    )
    assert workload.step_hint == 72_000
    submission = load_submission(submission_path("nadamw", framework))
    rng = jax.random.PRNGKey(0)
    torch.manual_seed(0)
    params, state = workload.init_model_fn(rng)
    before = _flat(framework, params)
    hparams = Hyperparameters({k: HPARAMS[k] for k in submission.required_hyperparameters})
    opt_state = submission.init_optimizer_state(
        workload=workload, model_params=params, model_state=state, hyperparameters=hparams, rng=rng
    )
    queue = workload.build_input_queue(rng, "train", None, BATCH_SIZE)
    logged: list[dict[str, float]] = []
    workload.attach_metrics_logger(lambda metrics, step: logged.append(dict(metrics)))
    for step in range(STEPS):
        batch = next(queue)
        assert tuple(batch["weights"].shape) == (BATCH_SIZE, TOY["seq_len"])
        opt_state, params, state = submission.update_params(
            workload=workload,
            current_param_container=params,
            current_params_types=None,
            model_state=state,
            hyperparameters=hparams,
            batch=batch,
            loss_type=None,
            optimizer_state=opt_state,
            eval_results=[],
            global_step=step,
            rng=jax.random.fold_in(rng, step),
        )
    queue.close()  # type: ignore[attr-defined]
    after = _flat(framework, params)
    assert all(np.isfinite(a).all() for a in after)
    assert all(not np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    assert abs(logged[0]["loss"] - math.log(TOY["vocab_size"])) < 0.1
    metrics = workload.eval_model(workload.eval_batch_size, params, state, rng, None, STEPS)
    assert abs(metrics["validation/loss"] - math.log(TOY["vocab_size"])) < 0.1
    assert metrics["validation/ppl"] == pytest.approx(math.exp(metrics["validation/loss"]))
    assert "test/ppl" not in metrics  # no test split
