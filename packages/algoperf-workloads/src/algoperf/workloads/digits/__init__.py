"""Built-in dev workloads on scikit-learn's bundled handwritten digits: no download needed.

`digits_mlp` and `digits_cnn` share one data pipeline (`data`) and differ only in the model
(`jax_model` / `torch_model`, chosen by workload name). This module imports no framework.
"""
