"""`masked_loss_output`: the one masked-loss helper of each framework."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from algoperf.workloads import jax_base, torch_base

HELPERS = {
    "jax": (jax_base.masked_loss_output, jnp.asarray),
    "pytorch": (torch_base.masked_loss_output, torch.as_tensor),
}


@pytest.fixture(params=HELPERS)
def helper(request):
    """The framework's helper, and its array constructor."""
    return HELPERS[request.param]


def _np(out):
    return {k: np.asarray(v) for k, v in out.items()}


def test_a_mask_zeroes_entries_and_counts_the_valid_ones(helper):
    masked_loss_output, array = helper
    out = _np(masked_loss_output(array([1.0, 2.0, 4.0]), array([[1.0], [0.0], [1.0]])))
    np.testing.assert_array_equal(out["per_example"], [1.0, 0.0, 4.0])  # (B, 1) mask, as criteo's
    assert out["summed"] == 5.0
    assert out["n_valid_examples"] == 2.0


def test_without_a_mask_every_entry_counts(helper):
    masked_loss_output, array = helper
    out = _np(masked_loss_output(array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), None))
    assert out["n_valid_examples"] == 6.0
    assert out["summed"] == 21.0


def test_trailing_axes_are_summed_per_example_and_counted_per_entry(helper):
    masked_loss_output, array = helper
    losses = array([[1.0, 2.0], [3.0, 4.0]])  # (G, T), as ogbg's tasks
    out = _np(masked_loss_output(losses, array([[1.0, 0.0], [1.0, 1.0]])))
    np.testing.assert_array_equal(out["per_example"], [1.0, 7.0])
    assert out["summed"] == 8.0
    assert out["n_valid_examples"] == 3.0
