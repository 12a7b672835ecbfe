"""One timed trial under the benchmark's timing rules.

The clock counts only the submission's work: `data_selection` and `update_params` every step,
and `prepare_for_eval` before each eval (where the rule version has it). Setup (data, model
and optimizer initialisation), evals and writing records are not timed. The first eval
follows step 1; later ones follow once `eval_period_sec` of submission time has passed since
the previous one, and one follows the end of training. The budget is checked after every
step (the reference checked it only at eval time, so runs overshot), and no eval runs once
it is spent. The device is synchronised before every clock read.

With checkpoints on, a checkpoint follows every `checkpoint_every`-th eval (its writing time
counts as logging time, like the records'). A resumed trial restores the training arrays and
the bookkeeping, truncates the records to the checkpoint's evals, and sets its freshly built
input queue to the state saved with them (O(1): no batch is loaded again; a queue without a
state, from a workload outside this project, is replayed instead); step keys derive from the
step number, so every random stream continues where it was. A JAX trial
compiles its steps again after a resume; that time is submission time (the rules time
compilation), so the first eval after a resume usually comes at once.
"""

from __future__ import annotations

import itertools
import math
import numbers
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from algoperf.api import (
    AlgoPerfError,
    EvalRecord,
    ResumableQueue,
    Submission,
    TrainingCompleteError,
    TrialOutcome,
    TrialSpec,
    TrialStatus,
    Workload,
    get_rules,
)
from algoperf.harness._checkpoint import CheckpointState, TrialCheckpoints, arrays_of
from algoperf.harness._runtime import Runtime
from algoperf.harness._writer import NullWriter, TrialWriter

Clock = Callable[[], float]
KEY_BLOCK = 1024
"""Steps whose random keys are derived together."""


class ContractError(AlgoPerfError):
    """A submission function returned something the API does not allow."""


@dataclass
class TrainState:
    """The loop's bookkeeping; submissions that ask for `train_state` get a read-only view."""

    global_step: int = 0
    accumulated_submission_time: float = 0.0
    accumulated_eval_time: float = 0.0
    accumulated_logging_time: float = 0.0
    last_eval_submission_time: float = -math.inf
    validation_goal_reached: bool = False
    test_goal_reached: bool = False
    is_time_remaining: bool = True
    training_complete: bool = False
    eval_results: list[tuple[int, dict[str, float]]] = field(default_factory=list)

    def scalars(self) -> dict[str, Any]:
        """The fields other than `eval_results`."""
        return {k: v for k, v in vars(self).items() if k != "eval_results"}

    def view(self) -> Mapping[str, Any]:
        """A read-only mapping of the scalar fields."""
        return MappingProxyType(self.scalars())


@dataclass(frozen=True)
class TrialOptions:
    """Choices of a trial run that are not part of its identity."""

    data_dir: str | None = None
    """Where the workload's dataset lives (None for built-in data)."""
    max_global_steps: int | None = None
    """Stop after this many steps (a smoke-test limit; the trial then counts as stopped)."""
    clock: Clock = time.perf_counter
    """Monotonic seconds; tests inject a fake clock."""
    checkpoint_every: int | None = None
    """Checkpoint after every this many evals; None: never (then a trial cannot resume)."""
    resume: bool = False
    """Continue from the trial directory's latest checkpoint, if any, instead of starting over."""
    keep_checkpoints: bool = False
    """Keep the last checkpoint of an ended trial (by default it is deleted to free the disk)."""
    data_workers: int | None = None
    """Input worker processes per trial process (None: the workload's default)."""


@dataclass
class _Training:
    """What the submission trains: the arrays a checkpoint holds."""

    params: Any
    model_state: Any
    optimizer_state: Any

    def arrays(self) -> dict[str, Any]:
        return arrays_of(self.params, self.model_state, self.optimizer_state)

    def update(self, result: Any, function: str) -> None:
        """Take `(optimizer_state, params, model_state)` as returned by `function`."""
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise ContractError(
                f"{function} returned {_describe(result)}; it must return the tuple "
                "(optimizer_state, params, model_state)"
            )
        self.optimizer_state, self.params, self.model_state = result


class _CountingQueue(Iterator[Any]):
    """The training input queue, counting the batches drawn, with its state if it has one."""

    def __init__(self, queue: Iterator[Any]) -> None:
        self.queue = queue
        self.drawn = 0

    def __next__(self) -> Any:
        batch = next(self.queue)
        self.drawn += 1
        return batch

    def state(self) -> dict[str, Any] | None:
        """The queue's own state, or None for a queue that can only be replayed."""
        return self.queue.get_state() if isinstance(self.queue, ResumableQueue) else None

    def close(self) -> None:
        """Stop the queue's threads and worker processes, if it has any."""
        close = getattr(self.queue, "close", None)
        if close is not None:
            close()

    def restore(self, drawn: int, state: dict[str, Any] | None) -> None:
        """Continue after `drawn` batches: from `state` if saved, else by replaying them."""
        if state is not None and isinstance(self.queue, ResumableQueue):
            self.queue.set_state(state)
        else:
            for _ in itertools.islice(self.queue, drawn):
                pass
        self.drawn = drawn


class _StepKeys:
    """Each step's four keys (select, update, prepare, eval), derived a block at a time."""

    def __init__(self, runtime: Runtime, key: Any) -> None:
        self.runtime, self.key = runtime, key
        self.block: Any = ()
        self.first = 0

    def of(self, step: int) -> Any:
        if not self.first <= step < self.first + len(self.block):
            self.first = step
            self.block = self.runtime.step_keys(self.key, step, KEY_BLOCK)
        return self.block[step - self.first]


class _Diverged(Exception):
    """A loss or metric became NaN or infinite."""


def resolve_batch_size(submission: Submission, workload: Workload) -> int:
    """The submission's batch size for the workload, falling back to its base workload's.

    Raises:
        ContractError: the submission returned no positive whole number.
    """
    name = workload.name
    try:
        size = submission.get_batch_size(name)
    except ValueError:
        if workload.spec.base_workload == name:
            raise
        name = workload.spec.base_workload
        size = submission.get_batch_size(name)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ContractError(
            f"get_batch_size({name!r}) returned {size!r}; it must return a positive int, "
            "the global batch size in examples"
        )
    return int(size)  # numpy integers too


def run_trial(
    spec: TrialSpec,
    workload: Workload,
    submission: Submission,
    runtime: Runtime,
    directory: str | Path,
    options: TrialOptions | None = None,
) -> TrialOutcome:
    """Run one trial, writing its records to `directory`; failures become outcomes.

    An exception in the submission or the workload (out-of-memory included) ends the trial
    as failed with its traceback (a broken contract with a one-line reason); NaN or infinite
    losses end it as diverged.
    """
    options = options or TrialOptions()
    writer = (TrialWriter if runtime.is_primary else NullWriter)(directory, spec)
    loop = _TrialLoop(spec, workload, submission, runtime, writer, options)
    try:
        status = loop.run()
        error = None
    except _Diverged as e:
        status, error = TrialStatus.DIVERGED, str(e)
    except AlgoPerfError as e:
        status, error = TrialStatus.FAILED, str(e)
    except Exception:
        status, error = TrialStatus.FAILED, traceback.format_exc()
    except BaseException:  # interrupted: keep what was logged, and the checkpoint
        writer.close()
        raise
    finally:
        loop.close_input()
    state = loop.state
    outcome = TrialOutcome(
        status=status,
        time_to_target=loop.time_to_target if status is TrialStatus.REACHED_TARGET else None,
        global_step=state.global_step,
        accumulated_submission_time=state.accumulated_submission_time,
        error=error,
    )
    writer.finish(outcome)
    if not options.keep_checkpoints:
        loop.checkpoints.clear()  # an ended trial is never resumed
    return outcome


class _TrialLoop:
    """The state and steps of one trial (see the module docstring for the rules)."""

    def __init__(
        self,
        spec: TrialSpec,
        workload: Workload,
        submission: Submission,
        runtime: Runtime,
        writer: TrialWriter,
        options: TrialOptions,
    ) -> None:
        self.spec, self.workload, self.submission = spec, workload, submission
        self.runtime, self.writer, self.options = runtime, writer, options
        self.checkpoints = TrialCheckpoints(writer.directory, runtime)
        rules = get_rules(spec.rules_version)
        self.prepare_for_eval = submission.prepare_for_eval if rules.has_prepare_for_eval else None
        self.budget = workload.spec.max_runtime_sec(rules, spec.ruleset)
        self.max_steps = min(
            (n for n in (options.max_global_steps, rules.max_steps) if n is not None),
            default=None,
        )
        self.hyperparameters = spec.hyperparameters_object()
        self.state = TrainState()
        self.records: list[EvalRecord] = []
        self.time_to_target: float | None = None
        self.preemption_count = 0
        self.start_time = 0.0
        self.non_finite_logged: str | None = None
        # Set up (untimed) by `run`:
        self.training: _Training
        self.input_queue: _CountingQueue
        self.keys: _StepKeys

    def run(self) -> TrialStatus:
        """Set up (untimed), then train until a stopping rule fires."""
        elapsed_before = self._setup()
        # A resumed trial's wall time continues from the checkpoint's.
        self.start_time = self.options.clock() - elapsed_before
        last_step_end = self._synchronized_now()
        while (status := self._stop_status()) is None:
            self._step()
            now = self._synchronized_now()
            self._charge(now - last_step_end)
            last_step_end = now
            if self.state.is_time_remaining and self._eval_due():
                self._prepare_and_eval()
                last_step_end = self._synchronized_now()  # the eval's time is not counted
        return status

    def close_input(self) -> None:
        """Stop the input queue's loading (it may not exist if set-up failed early)."""
        queue = getattr(self, "input_queue", None)
        if queue is not None:
            queue.close()

    # --- setup and checkpoints -------------------------------------------------------------

    def _setup(self) -> float:
        """Build the input queue, model and optimizer; restore a checkpoint if resuming.

        Returns the wall seconds the trial had run before (0 for a fresh start).
        """
        checkpoint = None
        if self.options.resume:
            checkpoint = self.checkpoints.latest(self.spec.content_hash())
        if checkpoint is None:
            self.writer.start()
        self.checkpoints.clear(keep=checkpoint)
        runtime, workload = self.runtime, self.workload
        runtime.seed_global_state(self.spec.seed)
        data_rng, opt_rng, model_rng, loop_rng = runtime.split(runtime.key(self.spec.seed), 4)
        self.keys = _StepKeys(runtime, loop_rng)
        batch_size = resolve_batch_size(self.submission, workload)
        self.input_queue = _CountingQueue(
            workload.build_input_queue(data_rng, "train", self.options.data_dir, batch_size)
        )
        params, model_state = workload.init_model_fn(model_rng)
        optimizer_state = self.submission.init_optimizer_state(
            workload=workload,
            model_params=params,
            model_state=model_state,
            hyperparameters=self.hyperparameters,
            rng=opt_rng,
        )
        self.training = _Training(params, model_state, optimizer_state)
        workload.attach_metrics_logger(self._log_metrics)
        return 0.0 if checkpoint is None else self._restore(checkpoint)

    def _restore(self, path: Path) -> float:
        """Continue from the checkpoint at `path`; returns its elapsed wall seconds."""
        saved = self.checkpoints.read_state(path)
        arrays = self.checkpoints.restore(path, self.training.arrays())
        self.training = _Training(
            arrays["params"], arrays["model_state"], arrays["optimizer_state"]
        )
        self.state = TrainState(
            **saved.train_state,  # type: ignore[arg-type]
            eval_results=[(r.global_step, dict(r.metrics)) for r in saved.evals],
        )
        self.records = list(saved.evals)
        self.time_to_target = saved.time_to_target
        self.preemption_count = saved.preemption_count + 1
        self.input_queue.restore(saved.batches_drawn, saved.input_state)
        self.writer.resume(self.records, self.preemption_count, self.state.global_step)
        return saved.elapsed

    def _checkpoint(self) -> None:
        every = self.options.checkpoint_every
        if every is None or len(self.records) % every:
            return
        state = CheckpointState(
            spec_hash=self.spec.content_hash(),
            preemption_count=self.preemption_count,
            batches_drawn=self.input_queue.drawn,
            input_state=self.input_queue.state(),
            elapsed=self.options.clock() - self.start_time,
            time_to_target=self.time_to_target,
            train_state=self.state.scalars(),
            evals=self.records,
        )
        self.checkpoints.save(self.state.global_step, state, self.training.arrays())

    # --- the timed work --------------------------------------------------------------------

    def _step(self) -> None:
        state, training = self.state, self.training
        select_rng, update_rng, _, _ = self.keys.of(state.global_step)
        common: dict[str, Any] = dict(
            workload=self.workload,
            optimizer_state=training.optimizer_state,
            current_param_container=training.params,
            model_state=training.model_state,
            hyperparameters=self.hyperparameters,
            global_step=state.global_step,
        )
        try:
            batch = self.submission.data_selection(
                **common, input_queue=self.input_queue, rng=select_rng
            )
            extra: dict[str, Any] = (
                {"train_state": state.view()} if self.submission.accepts_train_state else {}
            )
            result = self.submission.update_params(
                **common,
                current_params_types=self.workload.model_params_types,
                batch=batch,
                loss_type=self.workload.loss_type,
                eval_results=list(state.eval_results),
                rng=update_rng,
                **extra,
            )
            training.update(result, "update_params")
        except TrainingCompleteError:
            state.training_complete = True
        state.global_step += 1
        if self.max_steps is not None and state.global_step >= self.max_steps:
            state.training_complete = True
        if self.non_finite_logged:
            raise _Diverged(self.non_finite_logged)

    def _charge(self, seconds: float) -> None:
        """Add the slowest process's `seconds` to the submission time; check the budget."""
        state = self.state
        state.accumulated_submission_time += self.runtime.max_over_processes(seconds)
        state.is_time_remaining = state.accumulated_submission_time < self.budget

    def _eval_due(self) -> bool:
        state = self.state
        since_last = state.accumulated_submission_time - state.last_eval_submission_time
        return state.training_complete or since_last >= self.workload.eval_period_time_sec

    def _prepare_and_eval(self) -> None:
        state, training = self.state, self.training
        # The keys of the step just taken.
        _, _, prepare_rng, eval_rng = self.keys.of(state.global_step - 1)
        if self.prepare_for_eval is not None:
            started = self._synchronized_now()
            result = self.prepare_for_eval(
                workload=self.workload,
                current_param_container=training.params,
                current_params_types=self.workload.model_params_types,
                model_state=training.model_state,
                hyperparameters=self.hyperparameters,
                loss_type=self.workload.loss_type,
                optimizer_state=training.optimizer_state,
                eval_results=list(state.eval_results),
                global_step=state.global_step,
                rng=prepare_rng,
            )
            training.update(result, "prepare_for_eval")
            self._charge(self._synchronized_now() - started)
            if not state.is_time_remaining:
                return
        state.last_eval_submission_time = state.accumulated_submission_time
        started = self.options.clock()
        metrics = self.workload.eval_model(
            self.workload.eval_batch_size,
            training.params,
            training.model_state,
            eval_rng,
            self.options.data_dir,
            state.global_step,
        )
        ended = self.options.clock()
        state.accumulated_eval_time += ended - started
        self._record(metrics, ended)

    # --- records and stopping --------------------------------------------------------------

    def _record(self, metrics: Mapping[str, float], now: float) -> None:
        state = self.state
        metrics = {k: float(v) for k, v in metrics.items()}
        state.eval_results.append((state.global_step, metrics))
        if not state.validation_goal_reached and self.workload.has_reached_validation_target(
            metrics
        ):
            state.validation_goal_reached = True
            self.time_to_target = state.accumulated_submission_time
        test_split = self.workload.num_test_examples is not None
        if not test_split or self.workload.has_reached_test_target(metrics):
            state.test_goal_reached = True
        started = self.options.clock()
        record = EvalRecord(
            global_step=state.global_step,
            accumulated_submission_time=state.accumulated_submission_time,
            accumulated_eval_time=state.accumulated_eval_time,
            accumulated_logging_time=state.accumulated_logging_time,
            total_duration=now - self.start_time,
            preemption_count=self.preemption_count,
            metrics=metrics,
        )
        self.writer.eval(record)
        self.records.append(record)
        if bad := non_finite_losses(metrics):
            raise _Diverged(f"non-finite {', '.join(bad)} at step {state.global_step}")
        self._checkpoint()  # not of a diverged state: resuming it would only diverge again
        state.accumulated_logging_time += self.options.clock() - started

    def _stop_status(self) -> TrialStatus | None:
        state = self.state
        ended = not state.is_time_remaining or state.training_complete
        if state.validation_goal_reached and (state.test_goal_reached or ended):
            return TrialStatus.REACHED_TARGET
        if not state.is_time_remaining:
            return TrialStatus.BUDGET_EXHAUSTED
        return TrialStatus.STOPPED if state.training_complete else None

    def _synchronized_now(self) -> float:
        training = self.training
        self.runtime.synchronize(training.optimizer_state, training.params, training.model_state)
        return self.options.clock()

    def _log_metrics(self, metrics: Mapping[str, float], global_step: int) -> None:
        """Record the submission's per-step scalars; a non-finite loss ends the trial."""
        self.writer.metrics(global_step, metrics)
        if bad := non_finite_losses(metrics):
            self.non_finite_logged = f"non-finite {', '.join(bad)} logged at step {global_step}"


def non_finite_losses(metrics: Mapping[str, float]) -> list[str]:
    """The names of NaN or infinite losses among `metrics` (names ending in 'loss')."""
    return sorted(
        k for k, v in metrics.items() if k.endswith("loss") and not math.isfinite(float(v))
    )


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"
