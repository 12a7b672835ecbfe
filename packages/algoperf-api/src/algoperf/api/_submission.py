"""The submission contract: the functions a submitter writes, and the loader that checks them.

A submission is one Python file defining `get_batch_size`, `init_optimizer_state`,
`update_params` and `data_selection`, and optionally `prepare_for_eval`: either as
module-level functions, or as methods (or attributes) of one module-level object named
`SUBMISSION`, so that submissions sharing code need not re-export it function by function.
The harness calls them with keyword arguments, so parameter names are part of the contract;
order is not.

A submission may also declare the hyperparameters it reads, so a search space that lacks one
is rejected before the first trial (`check_search_space`): module-level
`REQUIRED_HYPERPARAMETERS`, or the `required_hyperparameters` attribute of `SUBMISSION`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from algoperf.api._enums import LossType
from algoperf.api._errors import SubmissionError, did_you_mean
from algoperf.api._hyperparameters import Hyperparameters

ParameterContainer = Any
"""Model parameters: a nested dict of arrays in JAX, the `torch.nn.Module` in PyTorch."""
ModelAuxiliaryState = Any
"""Non-trainable model state, e.g. batch-norm running statistics, or None."""
OptimizerState = Any
"""Whatever `init_optimizer_state` returns: a pytree in JAX, `state_dict()`-able in PyTorch."""
RandomState = Any
"""A JAX PRNG key, or in PyTorch a length-2 integer numpy array."""
ParameterTypeTree = Mapping[str, Any]
"""Nested mapping with the structure of the parameters and `ParameterType` leaves."""
EvalResults = Sequence[tuple[int, Mapping[str, float]]]
"""(global step, eval metrics) of every eval so far."""
UpdateReturn = tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
"""What `update_params` and `prepare_for_eval` return."""


class GetBatchSizeFn(Protocol):
    """`get_batch_size(workload_name) -> int`.

    The global training batch size; it must be divisible by the number of devices. The
    harness calls it with the full workload name, and with the base workload's name if that
    raises ValueError.
    """

    def __call__(self, workload_name: str) -> int: ...


class InitOptimizerStateFn(Protocol):
    """`init_optimizer_state(...) -> OptimizerState`, called once per trial, untimed."""

    def __call__(
        self,
        workload: Any,
        model_params: ParameterContainer,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters | None,
        rng: RandomState,
    ) -> OptimizerState: ...


class UpdateParamsFn(Protocol):
    """`update_params(...) -> (optimizer_state, params, model_state)`: one timed training step.

    It may raise `TrainingCompleteError` to end training. A `train_state` parameter is
    optional: when declared, the harness passes a read-only view of its bookkeeping.
    """

    def __call__(
        self,
        workload: Any,
        current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters | None,
        batch: Mapping[str, Any],
        loss_type: LossType,
        optimizer_state: OptimizerState,
        eval_results: EvalResults,
        global_step: int,
        rng: RandomState,
    ) -> UpdateReturn: ...


class PrepareForEvalFn(Protocol):
    """Optional `prepare_for_eval(...)`: runs before each eval and its time counts.

    Use it to swap in averaged weights (EMA, Polyak, schedule-free's x sequence).
    """

    def __call__(
        self,
        workload: Any,
        current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters | None,
        loss_type: LossType,
        optimizer_state: OptimizerState,
        eval_results: EvalResults,
        global_step: int,
        rng: RandomState,
    ) -> UpdateReturn: ...


class DataSelectionFn(Protocol):
    """`data_selection(...) -> batch`: picks the next training batch; its time counts.

    The usual implementation is `return next(input_queue)`.
    """

    def __call__(
        self,
        workload: Any,
        input_queue: Iterator[Mapping[str, Any]],
        optimizer_state: OptimizerState,
        current_param_container: ParameterContainer,
        model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters | None,
        global_step: int,
        rng: RandomState,
    ) -> Mapping[str, Any]: ...


REQUIRED_FUNCTIONS: Mapping[str, type] = {
    "get_batch_size": GetBatchSizeFn,
    "init_optimizer_state": InitOptimizerStateFn,
    "update_params": UpdateParamsFn,
    "data_selection": DataSelectionFn,
}
OPTIONAL_FUNCTIONS: Mapping[str, type] = {"prepare_for_eval": PrepareForEvalFn}
OPTIONAL_PARAMETERS: Mapping[str, tuple[str, ...]] = {"update_params": ("train_state",)}
SUBMISSION_OBJECT = "SUBMISSION"
"""Module-level name of the optional object whose attributes are the submission functions."""
_MODULE_DECLARATION = "REQUIRED_HYPERPARAMETERS"
_OBJECT_DECLARATION = "required_hyperparameters"


@dataclass(frozen=True)
class Submission:
    """A loaded, checked submission."""

    path: Path
    module: ModuleType
    get_batch_size: GetBatchSizeFn
    init_optimizer_state: InitOptimizerStateFn
    update_params: UpdateParamsFn
    data_selection: DataSelectionFn
    prepare_for_eval: PrepareForEvalFn | None
    accepts_train_state: bool
    """Whether `update_params` declares the optional `train_state` parameter."""
    required_hyperparameters: tuple[str, ...] = ()
    """Hyperparameters the submission reads, as it declares them; () when it declares none."""

    @property
    def name(self) -> str:
        """The file's stem, e.g. 'submission' or 'jax_nadamw'."""
        return self.path.stem


def expected_signature(function_name: str) -> str:
    """The contract's signature of `function_name`, e.g. 'get_batch_size(workload_name)'."""
    names = list(_contract_parameters(function_name))
    names += [f"{p}=None" for p in OPTIONAL_PARAMETERS.get(function_name, ())]
    return f"{function_name}({', '.join(names)})"


def load_submission(path: str | Path) -> Submission:
    """Import a submission file from any folder and check it against the contract.

    The file's folder is on `sys.path` while it is imported, so helper modules beside it can
    be imported; no `__init__.py` is needed. The functions are module-level ones, or the
    attributes of a module-level `SUBMISSION` object; a file must not mix the two forms.

    Raises:
        SubmissionError: listing every problem: unreadable file, syntax or import error,
            missing functions, misnamed or missing parameters with the expected signature,
            both forms at once, and a malformed hyperparameter declaration.
    """
    path = Path(path).expanduser().resolve()
    module = _import_file(path)
    problems: list[str] = []
    namespace = _Namespace.of(module, problems)
    functions: dict[str, Callable[..., Any] | None] = {}
    for name in REQUIRED_FUNCTIONS:
        functions[name] = _checked_function(namespace, name, required=True, problems=problems)
    for name in OPTIONAL_FUNCTIONS:
        functions[name] = _checked_function(namespace, name, required=False, problems=problems)
    required_hyperparameters = _declared_hyperparameters(namespace, problems)
    if problems:
        raise SubmissionError(str(path), problems)
    update_params = functions["update_params"]
    return Submission(
        path=path,
        module=module,
        get_batch_size=functions["get_batch_size"],  # type: ignore[arg-type]
        init_optimizer_state=functions["init_optimizer_state"],  # type: ignore[arg-type]
        update_params=update_params,  # type: ignore[arg-type]
        data_selection=functions["data_selection"],  # type: ignore[arg-type]
        prepare_for_eval=functions["prepare_for_eval"],  # type: ignore[arg-type]
        accepts_train_state="train_state" in inspect.signature(update_params).parameters,  # type: ignore[arg-type]
        required_hyperparameters=required_hyperparameters,
    )


@dataclass(frozen=True)
class _Namespace:
    """Where the submission functions are looked up: the module, or its SUBMISSION object."""

    owner: object
    kind: str
    """'function' for the module form, 'method' for the object form (used in messages)."""
    prefix: str
    """What names the attribute in messages: '' or 'SUBMISSION.'."""
    hyperparameters_attr: str

    @classmethod
    def of(cls, module: ModuleType, problems: list[str]) -> _Namespace:
        if not hasattr(module, SUBMISSION_OBJECT):
            return cls(module, "function", "", _MODULE_DECLARATION)
        names = (*REQUIRED_FUNCTIONS, *OPTIONAL_FUNCTIONS, _MODULE_DECLARATION)
        mixed = [n for n in names if hasattr(module, n)]
        if mixed:
            problems.append(
                f"defines both {SUBMISSION_OBJECT} and module-level {', '.join(mixed)}; the "
                f"harness would call only {SUBMISSION_OBJECT}'s, so delete the module-level "
                f"names (or {SUBMISSION_OBJECT}, to use the functions)"
            )
        owner = getattr(module, SUBMISSION_OBJECT)
        return cls(owner, "method", f"{SUBMISSION_OBJECT}.", _OBJECT_DECLARATION)

    def public_callables(self) -> list[str]:
        names = vars(self.owner) if isinstance(self.owner, ModuleType) else dir(self.owner)
        return [n for n in names if not n.startswith("_") and callable(getattr(self.owner, n))]


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise SubmissionError(
            str(path), ["no such file; pass the path of the submission's .py file"]
        )
    if path.suffix != ".py":
        raise SubmissionError(str(path), ["not a .py file; pass the submission's Python source"])
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"_algoperf_submission_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(str(path), ["Python cannot load this file as a module"])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[module_name]
        where = f"line {e.lineno}" + (f", column {e.offset}" if e.offset else "")
        text = f": {e.text.strip()}" if e.text else ""
        raise SubmissionError(str(path), [f"syntax error at {where}: {e.msg}{text}"]) from None
    except Exception as e:
        del sys.modules[module_name]
        raise SubmissionError(str(path), [_describe_import_error(e, path)]) from e
    finally:
        sys.path.remove(str(path.parent))
    return module


def _describe_import_error(error: Exception, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    hint = ""
    if isinstance(error, ModuleNotFoundError):
        hint = (
            f"; install {error.name!r} in this environment and list it in the submission's "
            "requirements"
        )
    return f"importing the file raised {type(error).__name__}: {error}{where}{hint}"


def _checked_function(
    namespace: _Namespace, name: str, *, required: bool, problems: list[str]
) -> Callable[..., Any] | None:
    function = getattr(namespace.owner, name, None)
    signature = expected_signature(name)
    label = f"{namespace.prefix}{name}"
    if function is None:
        if required:
            hint = did_you_mean(name, namespace.public_callables())
            problems.append(f"missing {namespace.kind} {label}{hint}; expected: def {signature}")
        return None
    if not callable(function):
        problems.append(
            f"{label} is a {type(function).__name__}, not a {namespace.kind}; "
            f"expected: def {signature}"
        )
        return None
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function  # builtins and C callables: nothing to check
    problems += [
        f"{label}: {p}; expected: def {signature}" for p in _parameter_problems(name, params)
    ]
    return function


def _declared_hyperparameters(namespace: _Namespace, problems: list[str]) -> tuple[str, ...]:
    declared = getattr(namespace.owner, namespace.hyperparameters_attr, ())
    if (
        isinstance(declared, Collection)
        and not isinstance(declared, str)
        and all(isinstance(n, str) and n.isidentifier() for n in declared)
    ):
        return tuple(declared)
    problems.append(
        f"{namespace.prefix}{namespace.hyperparameters_attr} is {declared!r}; declare a tuple "
        'of hyperparameter names, e.g. ("learning_rate", "weight_decay")'
    )
    return ()


def _parameter_problems(name: str, params: Mapping[str, inspect.Parameter]) -> list[str]:
    expected = _contract_parameters(name)
    allowed = set(expected) | set(OPTIONAL_PARAMETERS.get(name, ()))
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    problems = []
    for pname, param in params.items():
        if pname in allowed or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind is param.POSITIONAL_ONLY or param.default is param.empty:
            problems.append(
                f"parameter {pname!r} is not in the contract{did_you_mean(pname, expected)}"
            )
    if not takes_kwargs:
        missing = [p for p in expected if p not in params]
        problems += [f"missing parameter {p!r}" for p in missing]
    positional_only = [
        p for p in expected if p in params and params[p].kind is params[p].POSITIONAL_ONLY
    ]
    problems += [
        f"parameter {p!r} must not be positional-only (it is passed by name)"
        for p in positional_only
    ]
    return problems


def _contract_parameters(function_name: str) -> tuple[str, ...]:
    protocol = REQUIRED_FUNCTIONS.get(function_name) or OPTIONAL_FUNCTIONS[function_name]
    params = inspect.signature(protocol.__call__).parameters
    return tuple(p for p in params if p != "self")
