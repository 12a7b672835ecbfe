"""JAX runtime: threefry keys (the reference's `PRNGKey` layout), `block_until_ready`, orbax."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from algoperf.api import Framework, HardwareInfo
from algoperf.harness._runtime import TrainingArrays

_ARRAYS = "arrays"


class JaxRuntime:
    """Runtime of JAX trials; all local devices take part (the workload shards over them)."""

    framework = Framework.JAX
    is_primary = True  # one process drives every local device

    def key(self, seed: int) -> jax.Array:
        """A raw threefry key holding all 64 bits of `seed` (x64 mode is not needed)."""
        words = np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)
        return jnp.asarray(words)

    def split(self, key: jax.Array, num: int) -> list[jax.Array]:
        """`num` keys from `key`."""
        return list(jax.random.split(key, num))

    def fold_in(self, key: jax.Array, data: int) -> jax.Array:
        """`key` folded with `data`."""
        return jax.random.fold_in(key, data)

    def seed_global_state(self, seed: int) -> None:
        """Nothing to seed: JAX has no global random state."""
        del seed

    def step_keys(self, key: jax.Array, first_step: int, count: int) -> np.ndarray:
        """`(count, 4, 2)` keys on the host; one device call for all of them."""
        return np.asarray(_step_keys(key, first_step, count))

    def synchronize(self, *trees: Any) -> None:
        """Block until every array in `trees` is computed."""
        jax.block_until_ready(trees)

    def hardware(self) -> HardwareInfo:
        """Kind and number of the local devices."""
        devices = jax.local_devices()
        return HardwareInfo(device_kind=devices[0].device_kind, device_count=len(devices))

    def max_over_processes(self, seconds: float) -> float:
        """One process drives all devices: its time is the time."""
        return seconds

    def save_arrays(self, directory: Path, arrays: TrainingArrays) -> None:
        """An orbax checkpoint of the pytree (JAX has no global random state)."""
        _checkpointer().save(directory / _ARRAYS, args=ocp.args.StandardSave(arrays))

    def restore_arrays(self, directory: Path, like: TrainingArrays) -> TrainingArrays:
        """The saved pytree, with the shardings (replicated over the mesh) of `like`."""
        return _checkpointer().restore(directory / _ARRAYS, args=ocp.args.StandardRestore(like))


def _checkpointer() -> ocp.Checkpointer:
    """A synchronous checkpointer: the loop's checkpoint must be complete before it is renamed."""
    return ocp.Checkpointer(ocp.StandardCheckpointHandler())


@functools.partial(jax.jit, static_argnums=2)
def _step_keys(key: jax.Array, first_step: int, count: int) -> jax.Array:
    steps = first_step + jnp.arange(count)
    return jax.vmap(lambda step: jax.random.split(jax.random.fold_in(key, step), 4))(steps)


def runtime() -> JaxRuntime:
    """The JAX runtime."""
    return JaxRuntime()
