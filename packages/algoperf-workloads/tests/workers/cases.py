"""The workloads both device-count workers run, as plain data shared by the two."""

# Name to (workload options, batch size, eval batch size). ogbg fixes its sub-batch count so
# every device count packs the same graphs. cifar's small batches keep its ResNet-18 cheap;
# it checks that batch norm uses global-batch statistics on any device count.
CASES = {
    "digits_mlp": ({}, 64, 256),
    "digits_cnn": ({}, 64, 256),
    "ogbg": ({"synthetic": True, "graph_shards": 8}, 64, 512),
    "criteo1tb_test": ({"synthetic": True}, 64, 1024),
    "mnist": ({"synthetic": True}, 64, 256),
    "cifar": ({"synthetic": True}, 16, 32),
    # One pooling level of 4 channels on 9 x 9 images (reflect padding included); SSIM and
    # loss sums on the device, and the per-example norms, at any device count.
    "fastmri": (
        {
            "synthetic": True,
            "model_config": {"num_channels": 4, "num_pool_layers": 1},
            "image_size": 9,
        },
        16,
        32,
    ),
}
