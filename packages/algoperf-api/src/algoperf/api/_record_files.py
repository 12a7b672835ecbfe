"""The file names of a trial record (`_records` reads and writes them), without pydantic.

Scoring finds trial folders by these names before it knows whether it needs the models.
"""

TRIAL_FILE = "trial.json"
"""The trial's spec, and its outcome once it ended; rewritten atomically."""
EVALS_FILE = "evals.jsonl"
"""One eval record per line, append-only."""
