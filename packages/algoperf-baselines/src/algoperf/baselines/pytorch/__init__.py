"""PyTorch baselines: optimizers, the shared train step, one submission file each.

Import only with the `[pytorch]` extra installed.
"""
