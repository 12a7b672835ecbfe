import inspect
import textwrap

import pytest

from algoperf import api

GOOD = """
import helper_module  # a module beside the submission


def get_batch_size(workload_name):
    return helper_module.BATCH


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return {"step": 0}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng{train_state}):
    return optimizer_state, current_param_container, model_state


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
    return next(input_queue)
"""

PREPARE = """

def prepare_for_eval(workload, current_param_container, current_params_types, model_state,
                     hyperparameters, loss_type, optimizer_state, eval_results, global_step, rng):
    return optimizer_state, current_param_container, model_state
"""


def good(train_state=""):
    return GOOD.replace("{train_state}", train_state)


def write_submission(tmp_path, source, name="my_submission.py"):
    folder = tmp_path / "anywhere" / "no_init_here"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helper_module.py").write_text("BATCH = 128\n")
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def problems_of(path):
    with pytest.raises(api.SubmissionError) as info:
        api.load_submission(path)
    assert str(info.value).startswith(f"{path.resolve()}: the submission does not follow")
    return info.value.problems


def test_loads_a_submission_from_any_folder(tmp_path):
    path = write_submission(tmp_path, good())
    submission = api.load_submission(path)
    assert submission.name == "my_submission"
    assert submission.get_batch_size("mnist") == 128
    assert submission.prepare_for_eval is None
    assert not submission.accepts_train_state
    batch = submission.data_selection(None, iter([{"x": 1}]), None, None, None, None, 0, None)
    assert batch == {"x": 1}


def test_optional_function_and_parameter_are_detected(tmp_path):
    path = write_submission(tmp_path, good(", train_state=None") + PREPARE)
    submission = api.load_submission(path)
    assert submission.accepts_train_state
    assert submission.prepare_for_eval is not None


def test_two_submissions_with_the_same_file_name_do_not_clash(tmp_path):
    a = write_submission(tmp_path / "a", good(), name="submission.py")
    b = write_submission(tmp_path / "b", good() + PREPARE, name="submission.py")
    assert api.load_submission(a).prepare_for_eval is None
    assert api.load_submission(b).prepare_for_eval is not None


def test_missing_function_names_the_expected_signature(tmp_path):
    source = good().replace("def data_selection", "def data_selector")
    problems = problems_of(write_submission(tmp_path, source))
    assert problems == [
        "missing function data_selection (did you mean 'data_selector'?); expected: def "
        "data_selection(workload, input_queue, optimizer_state, current_param_container, "
        "model_state, hyperparameters, global_step, rng)"
    ]


def test_wrong_parameter_names_are_each_reported(tmp_path):
    source = good().replace(
        "def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng)",
        "def init_optimizer_state(workload, model_params, model_state, hparams, rng)",
    )
    source = source.replace("def get_batch_size(workload_name)", "def get_batch_size(name)")
    problems = problems_of(write_submission(tmp_path, source))
    assert len(problems) == 4
    assert (
        "get_batch_size: parameter 'name' is not in the contract; expected: def "
        "get_batch_size(workload_name)" in problems
    )
    assert "get_batch_size: missing parameter 'workload_name'" in problems[1]
    assert problems[2].startswith(
        "init_optimizer_state: parameter 'hparams' is not in the contract"
        " (did you mean 'hyperparameters'?)"
    )
    assert problems[3].startswith("init_optimizer_state: missing parameter 'hyperparameters'")


def test_extra_parameters_with_defaults_and_kwargs_are_accepted(tmp_path):
    source = good(", debug=False").replace(
        "def get_batch_size(workload_name)", "def get_batch_size(**kwargs)"
    )
    api.load_submission(write_submission(tmp_path, source))


def test_not_a_function(tmp_path):
    source = good() + "\nprepare_for_eval = 3\n"
    problems = problems_of(write_submission(tmp_path, source))
    assert problems == [
        "prepare_for_eval is a int, not a function; expected: def "
        + api.expected_signature("prepare_for_eval")
    ]


def test_syntax_error_gives_the_line(tmp_path):
    source = good() + "\ndef broken(:\n    pass\n"
    problems = problems_of(write_submission(tmp_path, source))
    assert len(problems) == 1
    line = source.splitlines().index("def broken(:") + 1
    assert problems[0].startswith(f"syntax error at line {line}, column 12: invalid syntax")
    assert "def broken(:" in problems[0]


def test_import_error_names_the_module_and_the_fix(tmp_path):
    source = "import not_a_real_package_xyz\n" + good()
    problems = problems_of(write_submission(tmp_path, source))
    assert problems == [
        "importing the file raised ModuleNotFoundError: No module named "
        "'not_a_real_package_xyz' (line 1: import not_a_real_package_xyz); install "
        "'not_a_real_package_xyz' in this environment and list it in the submission's "
        "requirements"
    ]


def test_runtime_error_at_import(tmp_path):
    source = good() + "\nraise RuntimeError('boom')\n"
    problems = problems_of(write_submission(tmp_path, source))
    line = source.splitlines().index("raise RuntimeError('boom')") + 1
    assert problems == [
        f"importing the file raised RuntimeError: boom (line {line}: raise RuntimeError('boom'))"
    ]


def test_missing_and_non_python_files(tmp_path):
    assert problems_of(tmp_path / "nope.py") == [
        "no such file; pass the path of the submission's .py file"
    ]
    other = tmp_path / "submission.txt"
    other.write_text("")
    assert problems_of(other) == ["not a .py file; pass the submission's Python source"]


def test_expected_signatures_match_the_protocols():
    assert api.expected_signature("get_batch_size") == "get_batch_size(workload_name)"
    assert api.expected_signature("update_params").endswith("global_step, rng, train_state=None)")
    params = inspect.signature(api.UpdateParamsFn.__call__).parameters
    assert list(params)[1:4] == ["workload", "current_param_container", "current_params_types"]


OBJECT = """
class Optimizer:
    required_hyperparameters = ("learning_rate",)

    def __init__(self, batch_size):
        self.batch_size = batch_size

    def get_batch_size(self, workload_name):
        return self.batch_size

    def init_optimizer_state(self, workload, model_params, model_state, hyperparameters, rng):
        return {"step": 0}

    def update_params(self, workload, current_param_container, current_params_types,
                      model_state, hyperparameters, batch, loss_type, optimizer_state,
                      eval_results, global_step, rng, train_state=None):
        return optimizer_state, current_param_container, model_state

    @staticmethod
    def data_selection(workload, input_queue, optimizer_state, current_param_container,
                       model_state, hyperparameters, global_step, rng):
        return next(input_queue)


SUBMISSION = Optimizer(batch_size=64)
"""


def test_a_submission_object_supplies_the_functions(tmp_path):
    submission = api.load_submission(write_submission(tmp_path, OBJECT))
    assert submission.get_batch_size("mnist") == 64
    assert submission.data_selection(None, iter([{"x": 1}]), None, None, None, None, 0, None)
    assert submission.accepts_train_state
    assert submission.prepare_for_eval is None
    assert submission.required_hyperparameters == ("learning_rate",)
    assert submission.update_params.__self__ is submission.module.SUBMISSION


def test_a_submission_object_and_module_functions_together_are_rejected(tmp_path):
    source = (
        OBJECT + "\nget_batch_size = SUBMISSION.get_batch_size\nREQUIRED_HYPERPARAMETERS = ()\n"
    )
    assert problems_of(write_submission(tmp_path, source)) == [
        "defines both SUBMISSION and module-level get_batch_size, REQUIRED_HYPERPARAMETERS; the "
        "harness would call only SUBMISSION's, so delete the module-level names (or "
        "SUBMISSION, to use the functions)"
    ]


def test_a_submission_object_missing_a_method_or_with_a_bad_one(tmp_path):
    source = OBJECT.replace("def data_selection", "def data_selector").replace(
        "def get_batch_size(self, workload_name)", "def get_batch_size(self, name)"
    )
    problems = problems_of(write_submission(tmp_path, source))
    assert problems == [
        "SUBMISSION.get_batch_size: parameter 'name' is not in the contract; expected: def "
        "get_batch_size(workload_name)",
        "SUBMISSION.get_batch_size: missing parameter 'workload_name'; expected: def "
        "get_batch_size(workload_name)",
        "missing method SUBMISSION.data_selection (did you mean 'data_selector'?); expected: "
        "def " + api.expected_signature("data_selection"),
    ]


def test_a_submission_object_attribute_that_is_not_callable(tmp_path):
    source = OBJECT.replace("SUBMISSION = Optimizer(batch_size=64)", "SUBMISSION = Optimizer(64)")
    source += "\nSUBMISSION.prepare_for_eval = 3\n"
    assert problems_of(write_submission(tmp_path, source)) == [
        "SUBMISSION.prepare_for_eval is a int, not a method; expected: def "
        + api.expected_signature("prepare_for_eval")
    ]


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        (
            'REQUIRED_HYPERPARAMETERS = "learning_rate"',
            "REQUIRED_HYPERPARAMETERS is 'learning_rate'; declare a tuple of hyperparameter "
            'names, e.g. ("learning_rate", "weight_decay")',
        ),
        (
            'REQUIRED_HYPERPARAMETERS = ("learning rate",)',
            "REQUIRED_HYPERPARAMETERS is ('learning rate',); declare a tuple",
        ),
        ("REQUIRED_HYPERPARAMETERS = 3", "REQUIRED_HYPERPARAMETERS is 3; declare a tuple"),
    ],
)
def test_a_malformed_hyperparameter_declaration_is_reported(tmp_path, declaration, problem):
    problems = problems_of(write_submission(tmp_path, good() + "\n" + declaration + "\n"))
    assert len(problems) == 1
    assert problems[0].startswith(problem)
