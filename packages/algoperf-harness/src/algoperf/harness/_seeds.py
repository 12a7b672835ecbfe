"""Trial seeds derived deterministically, and differently for every trial.

The reference drew seeds from `os.urandom` once per process (so all trials of one call shared
a seed) and seeded studies with Python's per-process salted `hash(str)`. Here a seed is a
SHA-256 of the trial's identity, the same on every machine and in every process.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 63
"""Seeds fit a signed 64-bit integer, which every framework's seeding accepts."""


def derive_seed(experiment_seed: int, *parts: object) -> int:
    """A stable seed from an experiment seed and identifying parts (names, indices)."""
    text = "/".join(str(p) for p in (experiment_seed, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def trial_seed(experiment_seed: int, submission: str, workload: str, study: int, trial: int) -> int:
    """The seed of one trial; any change of identity gives an unrelated seed."""
    return derive_seed(experiment_seed, "trial", submission, workload, study, trial)


def study_seed(experiment_seed: int, submission: str, workload: str, study: int) -> int:
    """The seed of a study's hyperparameter search (shared by its trials)."""
    return derive_seed(experiment_seed, "study", submission, workload, study)
