"""JAX (optax) baselines: optimizers, the shared train step, one submission file each.

Import only with the `[jax]` extra installed.
"""
