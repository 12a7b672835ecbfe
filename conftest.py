"""Test-session setup shared by every package's tests."""

import os

# The test models are tiny: one intra-op thread is fastest, and several threads per process
# contend on a 2-core CI machine (PyTorch steps ran 10-30x slower under contention).
os.environ.setdefault("OMP_NUM_THREADS", "1")
