"""A framework-free workload, runtime and clock, so the timing rules are tested exactly."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np

from algoperf import api


class FakeClock:
    """Time moves only when the code under test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Interrupted(BaseException):
    """Escapes `run_trial` as a kill would (it is not an Exception)."""


class FakeRuntime:
    """Integer keys; nothing to synchronise; checkpoints are pickles."""

    framework = api.Framework.JAX
    is_primary = True

    def key(self, seed):
        return seed

    def split(self, key, num):
        return [hash((key, i)) % 2**31 for i in range(num)]

    def fold_in(self, key, data):
        return hash((key, "fold", data)) % 2**31

    def seed_global_state(self, seed):
        pass

    def step_keys(self, key, first_step, count):
        return [self.split(self.fold_in(key, s), 4) for s in range(first_step, first_step + count)]

    def synchronize(self, *trees):
        pass

    def hardware(self):
        return api.HardwareInfo(device_kind="fake", device_count=1)

    def max_over_processes(self, seconds):
        return seconds

    def save_arrays(self, directory, arrays):
        (directory / "arrays.pkl").write_bytes(pickle.dumps(arrays))

    def restore_arrays(self, directory, like):
        return pickle.loads((directory / "arrays.pkl").read_bytes())


class NumberedQueue:
    """A resumable queue of batches whose inputs are their index; counts the batches it built."""

    def __init__(self, global_batch_size):
        self.size, self.next, self.built = global_batch_size, 0, 0

    def __next__(self):
        self.built += 1
        self.next += 1
        return {"inputs": np.full(self.size, self.next - 1.0), "targets": np.ones(self.size)}

    def get_state(self):
        return {"next": self.next}

    def set_state(self, state):
        self.next = state["next"]


class FakeWorkload(api.Workload):
    """Accuracy follows a script of values, one per eval; each eval costs `eval_seconds`."""

    def __init__(self, clock, accuracies, eval_seconds=5.0, name="mnist", rules="v0.6"):
        super().__init__(api.get_workload_spec(name), rules)
        self.clock = clock
        self.accuracies = iter(accuracies)
        self.eval_seconds = eval_seconds
        self.eval_steps = []

    def init_model_fn(self, rng):
        self._param_shapes = {"w": (1,)}
        self._param_types = {"w": api.ParameterType.WEIGHT}
        return {"w": np.zeros(1)}, None

    def model_fn(self, params, batch, model_state, mode, rng, update_batch_norm, dropout_rate=None):
        return batch["inputs"] * params["w"], model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        per_example = (logits_batch - label_batch) ** 2
        return {
            "summed": per_example.sum(),
            "n_valid_examples": len(per_example),
            "per_example": per_example,
        }

    def is_output_params(self, param_key):
        return True

    def build_input_queue(self, data_rng, split, data_dir, global_batch_size):
        return (
            {"inputs": np.ones(global_batch_size), "targets": np.ones(global_batch_size)}
            for _ in itertools.count()
        )

    def eval_model(self, global_batch_size, params, model_state, rng, data_dir, global_step=0):
        self.clock.advance(self.eval_seconds)
        self.eval_steps.append(global_step)
        accuracy = next(self.accuracies, 0.0)
        loss = math.nan if accuracy is None else 1.0
        accuracy = 0.0 if accuracy is None else accuracy
        return {
            "validation/accuracy": accuracy,
            "test/accuracy": accuracy,
            "validation/loss": loss,
            "train/loss": loss,
        }


class ResumableFakeWorkload(FakeWorkload):
    """A `FakeWorkload` whose training queue (kept in `queues`) resumes from its state."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queues = []

    def build_input_queue(self, data_rng, split, data_dir, global_batch_size):
        self.queues.append(NumberedQueue(global_batch_size))
        return self.queues[-1]


def make_submission(tmp_path, clock_name="CLOCK", step_seconds=1.0, prepare_seconds=None, extra=""):
    """A submission file whose steps advance the shared fake clock in `fakes.CLOCKS`."""
    prepare = ""
    if prepare_seconds is not None:
        prepare = f'''

def prepare_for_eval(workload, current_param_container, current_params_types, model_state,
                     hyperparameters, loss_type, optimizer_state, eval_results, global_step, rng):
    fakes.CLOCKS["{clock_name}"].advance({prepare_seconds})
    optimizer_state["prepared"].append(global_step)
    return optimizer_state, current_param_container, model_state
'''
    source = f'''
import harness_fakes as fakes


def get_batch_size(workload_name):
    return 4


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return {{"steps": 0, "prepared": [], "rngs": []}}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
    fakes.CLOCKS["{clock_name}"].advance({step_seconds})
    optimizer_state["steps"] += 1
    optimizer_state["rngs"].append(rng)
    if workload.metrics_logger is not None and global_step % 5 == 0:
        workload.metrics_logger({{"loss": 1.0 / (global_step + 1)}}, global_step)
{extra}
    return optimizer_state, current_param_container, model_state


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
    return next(input_queue)
{prepare}'''
    path = tmp_path / f"submission_{clock_name}.py"
    path.write_text(source)
    return api.load_submission(path)


CLOCKS: dict[str, FakeClock] = {}

SPEC = api.TrialSpec(
    submission="fake",
    workload="mnist",
    framework="jax",
    ruleset="external",
    rules_version="v0.6",
    study=0,
    trial=1,
    seed=7,
    hyperparameters={"learning_rate": 0.1},
    hardware={"device_kind": "fake", "device_count": 1},
)
"""A trial of the fake workload (mnist's v0.6 budget and eval period)."""
