"""A submission that breaks the contract fails its trial with one line naming the fix."""

import harness_fakes as fakes
import numpy as np
import pytest

from algoperf import api
from algoperf.harness import TrialOptions, run_trial
from algoperf.harness._contract import check_framework
from algoperf.harness._trial import ContractError

SPEC = fakes.SPEC


@pytest.fixture
def clock():
    clock = fakes.FakeClock()
    fakes.CLOCKS["CLOCK"] = clock
    return clock


def run(tmp_path, clock, submission):
    workload = fakes.FakeWorkload(clock, [0.5] * 10)
    options = TrialOptions(clock=clock)
    return run_trial(SPEC, workload, submission, fakes.FakeRuntime(), tmp_path / "t", options)


def test_update_params_returning_none_fails_the_trial_with_the_fix(tmp_path, clock):
    submission = fakes.make_submission(tmp_path, extra="    return None\n")
    outcome = run(tmp_path, clock, submission)
    assert outcome.status is api.TrialStatus.FAILED
    assert outcome.error == (
        "update_params returned None; it must return the tuple "
        "(optimizer_state, params, model_state)"
    )
    assert outcome.global_step == 0


def test_prepare_for_eval_is_held_to_the_same_contract(tmp_path, clock):
    submission = fakes.make_submission(tmp_path, prepare_seconds=0.5)
    object.__setattr__(submission, "prepare_for_eval", lambda **kwargs: [1, 2])
    outcome = run(tmp_path, clock, submission)
    assert outcome.status is api.TrialStatus.FAILED
    assert outcome.error.startswith("prepare_for_eval returned a list of 2 items; it must")


@pytest.mark.parametrize("size", [0, -4, 2.5, None, True])
def test_a_batch_size_that_is_not_a_positive_int_is_named(tmp_path, clock, size):
    submission = fakes.make_submission(tmp_path)
    object.__setattr__(submission, "get_batch_size", lambda name: size)
    outcome = run(tmp_path, clock, submission)
    assert outcome.status is api.TrialStatus.FAILED
    assert outcome.error == (
        f"get_batch_size('mnist') returned {size!r}; it must return a positive int, the "
        "global batch size in examples"
    )


CONTRACT = """

def get_batch_size(workload_name):
    return 8


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return {}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
    return optimizer_state, current_param_container, model_state


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
    return next(input_queue)
"""


def submission_importing(tmp_path, header):
    path = tmp_path / f"{header.split()[1].replace('.', '_')}_submission.py"
    path.write_text(header + "\n" + CONTRACT)
    return api.load_submission(path)


def test_a_submission_of_the_other_framework_is_named_with_the_option_to_use(tmp_path):
    torch_file = submission_importing(tmp_path, "import numpy as np  # noqa\nfrom torch import nn")
    check_framework(torch_file, api.Framework.PYTORCH)
    with pytest.raises(ContractError) as error:
        check_framework(torch_file, api.Framework.JAX)
    assert str(error.value) == (
        f"{torch_file.path}: a pytorch submission (it imports pytorch, not jax); "
        "run it with --framework pytorch"
    )
    jax_file = submission_importing(tmp_path, "import optax")
    check_framework(jax_file, api.Framework.JAX)
    with pytest.raises(ContractError, match="run it with --framework jax"):
        check_framework(jax_file, api.Framework.PYTORCH)
    neutral = submission_importing(tmp_path, "import math")
    for framework in api.Framework:
        check_framework(neutral, framework)


def test_a_numpy_integer_batch_size_is_taken(tmp_path, clock):
    submission = fakes.make_submission(tmp_path)
    object.__setattr__(submission, "get_batch_size", lambda name: np.int64(4))
    assert run(tmp_path, clock, submission).status is not api.TrialStatus.FAILED
