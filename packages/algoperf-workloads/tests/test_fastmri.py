"""fastmri: parameter counts, JAX↔PyTorch parity, SSIM against skimage, preprocessing, HDF5 data."""

import dataclasses

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import traverse_util
from skimage.metrics import structural_similarity as skimage_ssim

from algoperf import api
from algoperf.workloads import get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads._pipeline import BatchRequest
from algoperf.workloads.fastmri import data, jax_model, jax_ssim, torch_model, torch_ssim
from algoperf.workloads.fastmri.config import CONFIGS
from algoperf.workloads.fastmri.jax_workload import _draw_params
from algoperf.workloads.fastmri.jax_workload import mean_absolute_error as jax_mae
from algoperf.workloads.fastmri.param_map import param_map
from algoperf.workloads.fastmri.torch_workload import mean_absolute_error as torch_mae
from algoperf.workloads.testing import assert_fp32_close

NAMES = tuple(CONFIGS)


@pytest.mark.parametrize("name", NAMES)
def test_full_size_parameter_counts_equal_the_registry(name):
    jax_count = sum(
        p.size for p in jax.tree.leaves(get_workload(name, "jax", synthetic=True).abstract_params())
    )
    with torch.device("meta"):
        model = get_workload(name, "pytorch", synthetic=True).build_model()  # type: ignore[attr-defined]
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == api.get_workload_spec(name).num_params


def test_layernorm_count_is_the_base_plus_a_scale_and_bias_per_convblock_channel():
    # 18 normalised convs in 9 ConvBlocks of 32, 64, 128, 256, 512, 256, 128, 64, 32 channels.
    extra = 2 * 2 * (32 + 64 + 128 + 256 + 512 + 256 + 128 + 64 + 32)
    spec = api.get_workload_spec
    assert spec("fastmri_layernorm").num_params == spec("fastmri").num_params + extra


def test_real_mode_refuses_a_reduced_image_size():
    with pytest.raises(ValueError, match="needs synthetic=True"):
        get_workload("fastmri", "pytorch", image_size=36)


# A one-pool U-Net with LayerNorm (and InstanceNorm in its transposed block) on 9 x 9 images:
# 9 -> 4, and the up path reflect-pads 8 to 9. Its longest fp32 sum is a gradient of the first
# conv (batch x pixels); the chain is 2 convs per ConvBlock (3 of them) and the transposed conv.
TINY = dataclasses.replace(CONFIGS["fastmri_layernorm"], num_channels=2, num_pool_layers=1)
GRAD_N, LAYERS = 4 * 9 * 9, 2 * 3 + 1


def _jax_to_torch_model(config, images):
    module = jax_model.UNet(config)
    shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), images))["params"]
    params = _draw_params(shapes, jax.random.PRNGKey(0))  # flax's init, compiled in seconds
    flat = traverse_util.flatten_dict(jax.device_get(params))
    rng = np.random.default_rng(1)  # constant leaves (scales, biases) made distinct
    flat = {
        k: v + 0.1 * rng.random(v.shape, np.float32) if np.ptp(v) == 0 else v
        for k, v in flat.items()
    }
    model = torch_model.UNet(config)
    weights = jax_to_torch(flat, param_map(config))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return module, traverse_util.unflatten_dict(flat), model


def test_outputs_loss_and_gradients_agree_across_frameworks():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 9, 9)).astype(np.float32)
    targets = rng.normal(size=(4, 9, 9)).astype(np.float32)
    weights = np.array([1, 1, 1, 0], np.float32)
    module, params, model = _jax_to_torch_model(TINY, images)

    def loss_of(p):
        outputs = module.apply({"params": p}, images, train=True, dropout_rate=0.0)
        return jnp.sum(jax_mae(targets, outputs) * weights) / weights.sum(), outputs

    (loss, outputs), grads = jax.jit(jax.value_and_grad(loss_of, has_aux=True))(params)
    model.train()
    t_out = model(torch.from_numpy(images))
    t_loss = (torch_mae(torch.from_numpy(targets), t_out) * torch.from_numpy(weights)).sum() / 3
    t_loss.backward()
    assert_fp32_close(t_out.detach().numpy(), outputs, n=9 * 4, layers=LAYERS, name="outputs")
    assert_fp32_close(t_loss.item(), loss, n=4 * 81, layers=LAYERS, name="loss")
    table = param_map(TINY)
    torch_grads = dict(model.named_parameters())
    for path, grad in jax_to_torch(traverse_util.flatten_dict(grads), table).items():
        assert_fp32_close(torch_grads[path].grad.numpy(), grad, n=GRAD_N, layers=LAYERS, name=path)


def test_channel_dropout_drops_whole_channels_in_both_frameworks():
    x = np.ones((2, 5, 5, 64), np.float32)
    block = jax_model.nn.Dropout(0.5, broadcast_dims=(1, 2), deterministic=False)
    out = np.asarray(
        jax.jit(lambda k: block.apply({}, x, rngs={"dropout": k}))(jax.random.PRNGKey(0))
    )
    assert set(np.unique(out[:, 0, 0, :])) == {0.0, 2.0}
    assert (out == out[:, :1, :1, :]).all()  # one draw per (example, channel)
    dropout = torch_model.ChannelDropout().train()
    t = dropout(torch.ones(2, 64, 5, 5), 0.5).numpy()
    assert set(np.unique(t[:, :, 0, 0])) == {0.0, 2.0}
    assert (t == t[:, :, :1, :1]).all()
    assert dropout.eval()(torch.ones(1, 2, 3, 3), 0.5).eq(1).all()


def _images(rng, n=3, size=24):
    x = rng.random((n, size, size)).astype(np.float32)
    y = np.clip(x + 0.2 * rng.normal(size=x.shape), 0, None).astype(np.float32)
    return x, y


def test_ssim_matches_skimage_and_agrees_across_frameworks():
    rng = np.random.default_rng(0)
    x, y = _images(rng)
    mean = np.array([0.0, 0.5, 2.0], np.float32)
    std = np.array([1.0, 2.0, 0.5], np.float32)
    volume_max = np.array([1.5, 0.0, 4.0], np.float32)  # 0 (padding rows) counts as 1
    ours_jax = np.asarray(jax.jit(jax_ssim.ssim)(x, y, mean, std, volume_max))
    ours_torch = torch_ssim.ssim(*map(torch.from_numpy, (x, y, mean, std, volume_max))).numpy()
    expected = [
        skimage_ssim(
            (x[i] * std[i] + mean[i]).astype(np.float64),
            (y[i] * std[i] + mean[i]).astype(np.float64),
            win_size=7,
            data_range=float(volume_max[i] or 1.0),
            gaussian_weights=False,
            use_sample_covariance=True,
            K1=0.01,
            K2=0.03,
        )
        for i in range(3)
    ]
    # skimage computes in float64; ours in float32 over 7 x 7 windows and 18 x 18 pixels.
    assert_fp32_close(ours_jax, expected, n=18 * 18 * 49, name="jax vs skimage")
    assert_fp32_close(ours_torch, expected, n=18 * 18 * 49, name="torch vs skimage")
    assert_fp32_close(ours_torch, ours_jax, n=18 * 18 * 49, name="torch vs jax")


def test_ssim_of_an_image_with_itself_is_one_and_is_clipped():
    rng = np.random.default_rng(1)
    x, _ = _images(rng, n=2)
    ones = np.ones(2, np.float32)
    same = jax.jit(jax_ssim.ssim)(x, x, np.zeros(2, np.float32), ones, ones)
    np.testing.assert_allclose(np.asarray(same), 1.0, atol=1e-5)
    # Outside [-1, 1] (possible in float32 rounding or with a tiny data range) is clipped.
    assert (
        np.asarray(jax.jit(jax_ssim.ssim)(x, x + 1e-3, np.zeros(2, np.float32), ones, ones)).max()
        <= 1.0
    )
    # The uniform filter pads symmetrically (the edge sample repeated), in both frameworks.
    img = rng.random((1, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(
        torch_ssim.uniform_filter(torch.from_numpy(img)).numpy(),
        np.asarray(jax.jit(jax_ssim.uniform_filter)(img)),
        atol=1e-6,
    )


def test_column_mask_keeps_the_centre_and_a_quarter_of_the_columns():
    width = 368
    always = data.column_mask(np.ones(width))  # uniforms of 1 keep no random column
    centre = int(width * 0.08)
    pad = (width - centre + 1) // 2
    assert always.sum() == centre
    assert always[pad : pad + centre].all()
    rng = np.random.default_rng(0)
    kept = np.mean([data.column_mask(rng.random(width)).mean() for _ in range(200)])
    assert abs(kept - 0.25) < 0.01


def test_process_slice_inverts_a_centred_orthonormal_fft_crops_and_normalises():
    rng = np.random.default_rng(0)
    image = rng.random((40, 24)) * np.exp(1j * rng.random((40, 24)))
    kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image), norm="ortho")).astype(
        np.complex64
    )
    target = np.abs(image[12:28, 4:20]).astype(np.float32) * 1.1
    out = data.process_slice(kspace, target, 2.5, np.zeros(24))  # uniform 0: every column kept
    magnitude = np.abs(image[12:28, 4:20])
    np.testing.assert_allclose(out["mean"], magnitude.mean(), rtol=1e-5)
    np.testing.assert_allclose(out["std"], magnitude.std(), rtol=1e-5)
    expected = (magnitude - magnitude.mean()) / magnitude.std()
    np.testing.assert_allclose(out["inputs"], np.clip(expected, -6, 6), atol=1e-4)
    np.testing.assert_allclose(
        out["targets"] * out["std"] + out["mean"], target, rtol=1e-4, atol=1e-5
    )
    assert out["inputs"].dtype == out["targets"].dtype == np.float32
    assert out["volume_max"] == 2.5


def _write_volume(path, slices, seed, with_max=True):
    rng = np.random.default_rng(seed)
    kspace = (rng.normal(size=(slices, 40, 24)) + 1j * rng.normal(size=(slices, 40, 24))).astype(
        np.complex64
    )
    with h5py.File(path, "w") as f:
        f["kspace"] = kspace
        f["reconstruction_esc"] = rng.random((slices, 16, 16)).astype(np.float32)
        if with_max:
            f.attrs["max"] = 3.0 + seed


@pytest.fixture
def fake_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "NUM_VALIDATION_FILES", 2)
    (tmp_path / data.TRAIN_DIR).mkdir()
    (tmp_path / data.VAL_DIR).mkdir()
    for i, n in enumerate((3, 2)):
        _write_volume(tmp_path / data.TRAIN_DIR / f"file{i}.h5", n, i)
    for i, n in enumerate((2, 1, 3)):
        _write_volume(tmp_path / data.VAL_DIR / f"file{i}.h5", n, 10 + i, with_max=i != 1)
    return tmp_path


def test_hdf5_splits_read_slices_by_file_and_index(fake_dir):
    dataset = data.FastMRIDataset(str(fake_dir))
    assert [dataset.num_examples(s) for s in ("train", "validation", "test")] == [5, 3, 3]
    (batch,) = dataset.eval_batches("validation", 4)
    assert batch["inputs"].shape == batch["targets"].shape == (4, 16, 16)
    np.testing.assert_array_equal(batch["weights"], [1, 1, 1, 0])
    np.testing.assert_array_equal(batch["volume_max"][:3], [13.0, 13.0, 0.0])  # no 'max': 0
    with h5py.File(fake_dir / data.VAL_DIR / "file1.h5") as f:  # example 2 = file1, slice 0
        uniform = BatchRequest(np.zeros(1), np.array([data.EVAL_KEY]), np.ones(1)).uniform(0, (24,))
        expected = data.process_slice(f["kspace"][0], f["reconstruction_esc"][0], 0.0, uniform[0])
    np.testing.assert_array_equal(batch["inputs"][2], expected["inputs"])
    np.testing.assert_array_equal(batch["targets"][2], expected["targets"])


def test_training_masks_differ_per_example_and_eval_masks_are_fixed(fake_dir):
    dataset = data.FastMRIDataset(str(fake_dir))
    train = next(dataset.train_batches(0, 4))
    again = next(dataset.train_batches(0, 4))
    other_seed = next(dataset.train_batches(1, 4))
    for key in ("inputs", "targets", "mean", "std", "volume_max"):
        np.testing.assert_array_equal(train[key], again[key])
    assert not np.array_equal(train["inputs"], other_seed["inputs"])
    first, second = (next(iter(dataset.eval_batches("test", 4))) for _ in range(2))
    np.testing.assert_array_equal(first["inputs"], second["inputs"])


def test_missing_data_names_the_folder_and_the_prepare_command(tmp_path):
    with pytest.raises(data.FastMRIDataError, match="algoperf-datasets prepare fastmri"):
        data.FastMRIDataset(str(tmp_path)).num_examples("train")
    (tmp_path / data.TRAIN_DIR).mkdir()
    (tmp_path / data.TRAIN_DIR / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(data.FastMRIDataError, match=r"bad\.h5"):
        data.FastMRIDataset(str(tmp_path)).num_examples("train")


def test_synthetic_batches_have_the_real_shapes():
    dataset = data.synthetic(sizes=(4, 2, 2))
    batch = next(dataset.train_batches(0, 2))
    assert batch["inputs"].shape == batch["targets"].shape == (2, 320, 320)
    assert {batch[k].shape for k in ("mean", "std", "volume_max")} == {(2,)}
    assert all(batch[k].dtype == np.float32 for k in ("inputs", "targets", "mean", "std"))
