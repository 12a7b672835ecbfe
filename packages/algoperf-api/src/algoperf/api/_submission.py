"""The submission contract: the functions a submitter writes, and the loader that checks them.

A submission is one Python file defining `get_batch_size`, `init_optimizer_state`,
`update_params` and `data_selection`, and optionally `prepare_for_eval`. The harness calls
them with keyword arguments, so parameter names are part of the contract; order is not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    be imported; no `__init__.py` is needed.

    Raises:
        SubmissionError: listing every problem: unreadable file, syntax or import error,
            missing functions, and misnamed or missing parameters with the expected signature.
    """
    path = Path(path).expanduser().resolve()
    module = _import_file(path)
    problems: list[str] = []
    functions: dict[str, Callable[..., Any] | None] = {}
    for name in REQUIRED_FUNCTIONS:
        functions[name] = _checked_function(module, name, required=True, problems=problems)
    for name in OPTIONAL_FUNCTIONS:
        functions[name] = _checked_function(module, name, required=False, problems=problems)
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
    )


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
    module: ModuleType, name: str, *, required: bool, problems: list[str]
) -> Callable[..., Any] | None:
    function = getattr(module, name, None)
    signature = expected_signature(name)
    if function is None:
        if required:
            public = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
            problems.append(
                f"missing function {name}{did_you_mean(name, public)}; expected: def {signature}"
            )
        return None
    if not callable(function):
        problems.append(
            f"{name} is a {type(function).__name__}, not a function; expected: def {signature}"
        )
        return None
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function  # builtins and C callables: nothing to check
    problems += [
        f"{name}: {p}; expected: def {signature}" for p in _parameter_problems(name, params)
    ]
    return function


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
