"""The workloads both device-count workers run, as plain data shared by the two."""

# Name to (workload options, batch size, eval batch size). ogbg fixes its sub-batch count so
# every device count packs the same graphs.
CASES = {
    "digits_mlp": ({}, 64, 256),
    "digits_cnn": ({}, 64, 256),
    "ogbg": ({"synthetic": True, "graph_shards": 8}, 64, 512),
    "criteo1tb_test": ({"synthetic": True}, 64, 1024),
}
