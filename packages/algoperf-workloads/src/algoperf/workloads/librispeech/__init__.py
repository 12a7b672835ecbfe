"""LibriSpeech workloads: the Conformer and DeepSpeech speech recognisers and their variants."""
