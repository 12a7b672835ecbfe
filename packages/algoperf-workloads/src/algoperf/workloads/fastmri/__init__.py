"""fastmri: fastMRI knee single-coil reconstruction with a U-Net, and its three variants.

`config`, `data` (k-space masking and the inverse FFT included) and `workload` are numpy
only; the models, SSIM and workloads live in `jax_*` / `torch_*`. This module imports no
framework.
"""
