"""AlgoPerf baseline submissions in JAX and PyTorch, with their search spaces."""
