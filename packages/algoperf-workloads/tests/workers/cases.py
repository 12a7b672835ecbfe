"""The workloads both device-count workers run, as plain data shared by the two."""

# Name to (workload options, batch size, eval batch size). ogbg fixes its sub-batch count so
# every device count packs the same graphs. cifar's small batches keep its ResNet-18 cheap;
# it checks that batch norm uses global-batch statistics on any device count, as the
# reduced Conformer does for its padding-masked batch norm.
CASES = {
    "digits_mlp": ({}, 64, 256),
    "digits_cnn": ({}, 64, 256),
    "ogbg": ({"synthetic": True, "graph_shards": 8}, 64, 512),
    "criteo1tb_test": ({"synthetic": True}, 64, 1024),
    "mnist": ({"synthetic": True}, 64, 256),
    "cifar": ({"synthetic": True}, 16, 32),
    # One reduced Conformer block: batch norm over the valid frames of the global batch, and
    # SpecAugment masks that do not depend on how the batch is split.
    "librispeech_conformer": (
        {
            "synthetic": True,
            "model_config": {"encoder_dim": 16, "num_attention_heads": 2, "num_encoder_layers": 1},
            "audio_length": 8_000,
            "target_length": 16,
        },
        8,
        16,
    ),
}
