"""wmt: German→English translation on WMT17 with an encoder-decoder Transformer.

`config`, `data`, `packing` and `bleu` are numpy only; the models, beam searches and
workloads live in `jax_*` / `torch_*`. This module imports no framework.
"""
