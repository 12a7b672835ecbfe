"""The AlgoPerf harness: timed trials, tuning, studies, checkpoints, sweeps and the CLI."""
