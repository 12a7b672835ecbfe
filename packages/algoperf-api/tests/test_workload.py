"""The Workload interface, exercised by a tiny numpy implementation."""

import numpy as np
import pytest

from algoperf import api


class LinearDigits(api.Workload):
    """Minimal concrete workload: a linear softmax classifier in numpy."""

    def init_model_fn(self, rng):
        params = {"dense": {"kernel": np.zeros((4, 3)), "bias": np.zeros(3)}}
        self._param_shapes = {"dense": {"kernel": (4, 3), "bias": (3,)}}
        self._param_types = {
            "dense": {"kernel": api.ParameterType.WEIGHT, "bias": api.ParameterType.BIAS}
        }
        return params, None

    def model_fn(self, params, batch, model_state, mode, rng, update_batch_norm, dropout_rate=None):
        logits = batch["inputs"] @ params["dense"]["kernel"] + params["dense"]["bias"]
        return logits, model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        logp = logits_batch - np.log(np.exp(logits_batch).sum(-1, keepdims=True))
        per_example = -logp[np.arange(len(label_batch)), label_batch]
        mask = np.ones_like(per_example) if mask_batch is None else mask_batch
        return {
            "summed": (per_example * mask).sum(),
            "n_valid_examples": mask.sum(),
            "per_example": per_example,
        }

    def is_output_params(self, param_key):
        return param_key == "dense"

    def build_input_queue(self, data_rng, split, data_dir, global_batch_size):
        while True:
            yield {
                "inputs": np.ones((global_batch_size, 4)),
                "targets": np.zeros(global_batch_size, int),
            }

    def eval_model(self, global_batch_size, params, model_state, rng, data_dir, global_step=0):
        return {"validation/accuracy": 1.0}


def test_metadata_comes_from_the_registry_under_the_chosen_rules():
    spec = api.get_workload_spec("mnist")
    workload = LinearDigits(spec)
    assert workload.name == "mnist"
    assert workload.rules is api.RULES_V05
    assert workload.target_metric_name == "accuracy"
    assert (workload.validation_target_value, workload.test_target_value) == (0.97, 0.97)
    assert workload.loss_type is api.LossType.SOFTMAX_CROSS_ENTROPY
    assert workload.num_train_examples == 50_000
    assert workload.num_eval_train_examples == workload.num_validation_examples == 10_000
    assert workload.num_test_examples == 10_000
    assert workload.eval_batch_size == 10_000
    assert workload.eval_period_time_sec == 10
    assert workload.max_allowed_runtime_sec == 60
    assert workload.step_hint == 7_813

    fastmri = LinearDigits(api.get_workload_spec("fastmri"), rules="v0.6")
    assert (fastmri.max_allowed_runtime_sec, fastmri.step_hint) == (4_430, 18_094)


def test_targets_use_the_shared_comparison():
    workload = LinearDigits(api.get_workload_spec("mnist"))
    assert workload.has_reached_validation_target(workload.eval_model(1, None, None, None, None))
    assert not workload.has_reached_validation_target({"validation/accuracy": 0.5})
    assert workload.has_reached_test_target({"test/accuracy": 0.97})


def test_parameter_trees_exist_only_after_init():
    workload = LinearDigits(api.get_workload_spec("mnist"))
    with pytest.raises(RuntimeError, match="call it first"):
        _ = workload.param_shapes
    with pytest.raises(RuntimeError, match="call it first"):
        _ = workload.model_params_types
    params, _ = workload.init_model_fn(None)
    assert workload.param_shapes["dense"]["kernel"] == params["dense"]["kernel"].shape
    batch = next(workload.build_input_queue(None, "train", None, 2))
    logits, _ = workload.model_fn(params, batch, None, api.ForwardPassMode.TRAIN, None, True)
    loss = workload.loss_fn(batch["targets"], logits)
    assert loss["summed"] == pytest.approx(2 * np.log(3))


def test_metrics_logger_and_abstract_methods():
    workload = LinearDigits(api.get_workload_spec("mnist"))
    logged = []
    workload.attach_metrics_logger(lambda metrics, step: logged.append((step, metrics)))
    workload.metrics_logger({"loss": 1.0}, 3)
    assert logged == [(3, {"loss": 1.0})]
    with pytest.raises(TypeError, match="abstract"):
        api.Workload(api.get_workload_spec("mnist"))  # type: ignore[abstract]


def test_training_complete_error_is_an_exception():
    with pytest.raises(api.TrainingCompleteError):
        raise api.TrainingCompleteError("done")
