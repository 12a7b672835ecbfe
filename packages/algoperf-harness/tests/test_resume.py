"""Checkpoint and resume: a killed trial continues as if it had never stopped."""

import json
import subprocess
import sys
from pathlib import Path

import harness_fakes as fakes
import pytest
import resumable_trial

from algoperf import api
from algoperf.harness import TrialOptions, run_trial
from algoperf.harness._checkpoint import TrialCheckpoints

WORKER = Path(resumable_trial.__file__)


def same_records(resumed: api.TrialRecord, reference: api.TrialRecord, killed_at_eval: int):
    """The resumed trial's records equal the uninterrupted one's, but for timing overheads."""
    assert resumed.outcome is not None
    assert resumed.outcome.model_dump(exclude={"error"}) == reference.outcome.model_dump(
        exclude={"error"}
    )
    assert [e.global_step for e in resumed.evals] == [e.global_step for e in reference.evals]
    for got, want in zip(resumed.evals, reference.evals, strict=True):
        assert got.metrics == want.metrics
        assert got.accumulated_submission_time == want.accumulated_submission_time
    counts = [e.preemption_count for e in resumed.evals]
    assert counts == [0] * killed_at_eval + [1] * (len(counts) - killed_at_eval)


# The PyTorch NAdamW baseline cannot load its own state_dict yet (its hyperparameter names come
# from `Optimizer.defaults`, which `load_state_dict` extends), so PyTorch runs AdamW.
@pytest.mark.parametrize(
    ("framework", "baseline", "kill"),
    [
        ("jax", "nadamw", "--kill-after-eval"),
        ("pytorch", "adamw", "--kill-in-checkpoint"),
    ],
)
@pytest.mark.slow
def test_a_sigkilled_trial_resumes_with_the_same_steps_and_evals(
    tmp_path, framework, baseline, kill
):
    reference = tmp_path / "reference"
    resumable_trial.run(framework, baseline, reference)

    killed = tmp_path / "killed"
    result = subprocess.run(
        [sys.executable, str(WORKER), framework, baseline, str(killed), kill, "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -9, result.stderr  # SIGKILL
    interrupted = api.read_trial(killed)
    assert interrupted.outcome is None
    assert len(interrupted.evals) == 3
    # The input queue's own state was saved: the resume sets it instead of replaying batches.
    (checkpoint,) = [p for p in killed.iterdir() if p.name.startswith("checkpoint_")]
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["input_state"] == {"next_batch": state["batches_drawn"]}
    # Eval 3's checkpoint never completed, so the trial resumes from eval 2's.
    resumable_trial.run(framework, baseline, killed, resume=True)

    same_records(api.read_trial(killed), api.read_trial(reference), killed_at_eval=2)
    # The ended trial's checkpoint is deleted, and no leftover of the interrupted save stays.
    assert [p.name for p in killed.iterdir() if "checkpoint" in p.name] == []


@pytest.fixture
def clock():
    clock = fakes.FakeClock()
    fakes.CLOCKS["CLOCK"] = clock
    return clock


SPEC = fakes.SPEC


def fake_trial(tmp_path, clock, resume=False, interrupt_at=None, workload=None, **options):
    """A fake trial (mnist: eval every 10 s, step 1 s, budget 60 s); returns the last opt state."""
    tmp_path.mkdir(exist_ok=True)
    extra = f"    if global_step == {interrupt_at}:\n        raise fakes.Interrupted()\n"
    submission = fakes.make_submission(tmp_path, extra=extra if interrupt_at else "")
    states = []
    original = submission.update_params

    def spy(**kwargs):
        result = original(**kwargs)
        states.append(result[0])
        return result

    object.__setattr__(submission, "update_params", spy)
    options = dict(clock=clock, checkpoint_every=1, resume=resume) | options
    run_trial(
        SPEC,
        workload or fakes.FakeWorkload(clock, [0.5] * 10),
        submission,
        fakes.FakeRuntime(),
        tmp_path / "trial",
        TrialOptions(**options),
    )
    return states[-1]


def test_resume_restores_the_optimizer_state_time_and_random_streams(tmp_path, clock):
    final = fake_trial(tmp_path / "a", clock)
    reference = api.read_trial(tmp_path / "a" / "trial")

    with pytest.raises(fakes.Interrupted):
        fake_trial(tmp_path / "b", clock, interrupt_at=25)
    # Checkpoints followed the evals at steps 1, 11 and 21; only the latest is kept.
    assert checkpoint_names(tmp_path / "b" / "trial") == ["checkpoint_21"]
    resumed_final = fake_trial(tmp_path / "b", clock, resume=True)

    record = api.read_trial(tmp_path / "b" / "trial")
    same_records(record, reference, killed_at_eval=3)
    assert [e.total_duration for e in record.evals[:3]] == [
        e.total_duration for e in reference.evals[:3]
    ]
    # The optimizer state went on from the checkpoint, with the same per-step keys.
    assert resumed_final == final
    assert final["steps"] == 60
    # Logged metrics after the checkpoint (step 21) were dropped and logged again, once.
    logged = (tmp_path / "b" / "trial" / "metrics.jsonl").read_text()
    assert logged == (tmp_path / "a" / "trial" / "metrics.jsonl").read_text()
    assert [json.loads(line)["global_step"] for line in logged.splitlines()] == list(
        range(0, 60, 5)
    )
    # One meta-data file per run of the trial.
    runs = sorted((tmp_path / "b" / "trial").glob("meta_data_*.json"))
    assert [p.name for p in runs] == ["meta_data_0.json", "meta_data_1.json"]
    meta = json.loads(runs[1].read_text())
    assert meta["preemption_count"] == 1
    assert meta["trial"] == SPEC.content_hash()
    assert meta["hardware"] == {"device_kind": "fake", "device_count": 1}
    assert "algoperf-harness" in meta["packages"]


def test_a_resumable_queue_continues_from_its_state_without_replaying(tmp_path, clock):
    reference = fakes.ResumableFakeWorkload(clock, [0.5] * 10)
    fake_trial(tmp_path / "a", clock, workload=reference)
    with pytest.raises(fakes.Interrupted):
        fake_trial(tmp_path / "b", clock, interrupt_at=25)
    state = json.loads((tmp_path / "b" / "trial" / "checkpoint_21" / "state.json").read_text())
    assert state["batches_drawn"] == 21
    assert state["input_state"] is None  # the plain generator's queue has no state
    with pytest.raises(fakes.Interrupted):
        fake_trial(
            tmp_path / "c",
            clock,
            interrupt_at=25,
            workload=fakes.ResumableFakeWorkload(clock, [0.5] * 10),
        )
    state = json.loads((tmp_path / "c" / "trial" / "checkpoint_21" / "state.json").read_text())
    assert state["input_state"] == {"next": 21}
    resumed = fakes.ResumableFakeWorkload(clock, [0.5] * 10)
    fake_trial(tmp_path / "c", clock, resume=True, workload=resumed)
    (queue,) = resumed.queues
    assert queue.built == 60 - 21  # the 21 batches before the checkpoint were not built again
    assert queue.next == reference.queues[0].next == 60
    same_records(
        api.read_trial(tmp_path / "c" / "trial"),
        api.read_trial(tmp_path / "a" / "trial"),
        killed_at_eval=3,
    )


def test_without_resume_a_trial_starts_over_and_drops_old_checkpoints(tmp_path, clock):
    with pytest.raises(fakes.Interrupted):
        fake_trial(tmp_path, clock, interrupt_at=25)
    final = fake_trial(tmp_path, clock)
    assert final["steps"] == 60
    record = api.read_trial(tmp_path / "trial")
    assert {e.preemption_count for e in record.evals} == {0}
    assert checkpoint_names(tmp_path / "trial") == []  # deleted once the trial ended


def test_an_ended_trial_keeps_its_last_checkpoint_only_when_asked(tmp_path, clock):
    fake_trial(tmp_path / "a", clock)
    assert checkpoint_names(tmp_path / "a" / "trial") == []
    fake_trial(tmp_path / "b", clock, keep_checkpoints=True)
    assert checkpoint_names(tmp_path / "b" / "trial") == ["checkpoint_51"]


def test_incomplete_checkpoints_are_never_resumed_and_are_removed(tmp_path, clock):
    with pytest.raises(fakes.Interrupted):
        fake_trial(tmp_path, clock, interrupt_at=25)
    directory = tmp_path / "trial"
    # What a kill during an older version's rotation left: a newer checkpoint without its
    # state.json (arrays only), and the hidden leftovers of a save and of a deletion.
    half = directory / "checkpoint_31"
    half.mkdir()
    (half / "arrays.pkl").write_bytes(b"partial")
    (directory / ".checkpoint_41.x").mkdir()
    (directory / ".deleting_11.y").mkdir()
    checkpoints = TrialCheckpoints(directory, fakes.FakeRuntime())
    assert checkpoints.latest(SPEC.content_hash()).name == "checkpoint_21"

    fake_trial(tmp_path, clock, resume=True, keep_checkpoints=True)
    record = api.read_trial(directory)
    assert [e.preemption_count for e in record.evals][-1] == 1  # resumed from checkpoint_21
    assert record.evals[2].global_step == 21
    assert sorted(
        p.name
        for p in directory.iterdir()
        if "checkpoint" in p.name or p.name.startswith(".deleting")
    ) == ["checkpoint_51"]


def checkpoint_names(directory):
    return sorted(p.name for p in directory.iterdir() if "checkpoint" in p.name)


def test_a_checkpoint_of_another_spec_is_not_resumed(tmp_path, clock):
    with pytest.raises(fakes.Interrupted):
        fake_trial(tmp_path, clock, interrupt_at=25)
    checkpoints = TrialCheckpoints(tmp_path / "trial", fakes.FakeRuntime())
    assert checkpoints.latest(SPEC.content_hash()) is not None
    assert checkpoints.latest(SPEC.model_copy(update={"seed": 8}).content_hash()) is None


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, clock):
    final = fake_trial(tmp_path, clock, resume=True, checkpoint_every=None)
    assert final["steps"] == 60
    assert not list((tmp_path / "trial").glob("*checkpoint*"))
