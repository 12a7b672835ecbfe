"""Scrambled Halton quasi-random search over a search space (Bousquet et al., 2017).

As in the reference: one prime base per dimension (the largest odd primes below 1000, 997
excluded), a random digit permutation and shift per dimension, and the first 100 points
skipped. Unlike the reference, the scrambling and the order of points come from an explicit
seed (the study's), so a study's points are reproducible.
"""

from __future__ import annotations

import numpy as np

from algoperf.api import Hyperparameters, SearchSpace

SKIP = 100
"""Leading points dropped: early Halton points are strongly correlated across dimensions."""


def _primes_below(limit: int) -> list[int]:
    sieve = np.ones(limit, dtype=bool)
    sieve[:2] = False
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = False
    return [int(p) for p in np.flatnonzero(sieve)]


def halton_bases(num_dims: int) -> list[int]:
    """The prime bases of `num_dims` dimensions."""
    odd = [p for p in _primes_below(1000) if p != 2 and p != 997]
    if num_dims > len(odd):
        raise ValueError(f"at most {len(odd)} dimensions are supported, not {num_dims}")
    return odd[len(odd) - num_dims :]


def scrambled_halton(num_points: int, num_dims: int, seed: int) -> np.ndarray:
    """`(num_points, num_dims)` quasi-random points in [0, 1), shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    indices = np.arange(SKIP, SKIP + num_points)
    points = np.empty((num_points, num_dims))
    for dim, base in enumerate(halton_bases(num_dims)):
        permutation = rng.permutation(base)
        shift = rng.random()
        value, scale, remaining = np.zeros(num_points), 1.0, indices.copy()
        while np.any(remaining):
            scale /= base
            value += permutation[remaining % base] * scale
            remaining //= base
        points[:, dim] = (value + shift) % 1.0
    return points[rng.permutation(num_points)]


def halton_search(space: SearchSpace, num_points: int, seed: int) -> list[Hyperparameters]:
    """`num_points` hyperparameter points of `space`, deterministic given `seed`."""
    names = list(space.parameters)
    quantiles = scrambled_halton(num_points, len(names), seed)
    return [space.point_at(dict(zip(names, row, strict=True))) for row in quantiles]
