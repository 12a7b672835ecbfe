"""The workloads both device-count workers run, as plain data shared by the two."""

import dataclasses

from algoperf.workloads.fastmri import config as fastmri
from algoperf.workloads.finewebedu_lm.config import FULL, TINY, config_from
from algoperf.workloads.imagenet_resnet import config as resnet
from algoperf.workloads.imagenet_vit import config as vit
from algoperf.workloads.librispeech import config as speech
from algoperf.workloads.wmt import config as wmt

# Name to (workload options, batch size, eval batch size). ogbg fixes its sub-batch count so
# every device count packs the same graphs. cifar's small batches keep its ResNet-18 cheap;
# it checks that batch norm uses global-batch statistics on any device count, as the reduced
# Conformer does for its padding-masked batch norm. The ImageNet models run at the contract
# suite's reduced size; ViT's batches are mixed up in pairs.
_RESNET = {"model_config": resnet.reduced(resnet.CONFIGS["imagenet_resnet"])}
_VIT = {"model_config": vit.reduced(vit.CONFIGS["imagenet_vit"])}
_CONFORMER = {
    "model_config": speech.with_overrides(
        speech.CONFIGS["librispeech_conformer"],
        {"encoder_dim": 16, "num_attention_heads": 2, "num_encoder_layers": 1},
    )
}
_WMT = dataclasses.replace(wmt.CONFIGS["wmt"], **wmt.TINY)
_LM = config_from(FULL, TINY)
CASES = {
    "digits_mlp": ({}, 64, 256),
    "digits_cnn": ({}, 64, 256),
    "ogbg": ({"synthetic": True, "graph_shards": 8}, 64, 512),
    "criteo1tb_test": ({"synthetic": True}, 64, 1024),
    "mnist": ({"synthetic": True}, 64, 256),
    "cifar": ({"synthetic": True}, 16, 32),
    "imagenet_resnet": ({"synthetic": True, "image_size": 32, **_RESNET}, 16, 32),
    "imagenet_vit": ({"synthetic": True, "image_size": 16, **_VIT}, 16, 32),
    # One pooling level of 4 channels on 9 x 9 images (reflect padding included); SSIM and
    # loss sums on the device, and the per-example norms, at any device count.
    "fastmri": (
        {
            "synthetic": True,
            "model_config": fastmri.UNetConfig(num_channels=4, num_pool_layers=1),
            "image_size": 9,
        },
        16,
        32,
    ),
    # One reduced Conformer block: batch norm over the valid frames of the global batch, and
    # SpecAugment masks that do not depend on how the batch is split.
    "librispeech_conformer": (
        {
            "synthetic": True,
            **_CONFORMER,
            "audio_length": 8_000,
            "target_length": 16,
        },
        8,
        16,
    ),
    # The contract suite's reduced Transformer (1 + 1 layers of width 32, 64 ids, 16 tokens
    # per row): packed rows planned from the global batch, each process building its share;
    # per-token sums and beam-search BLEU over padded eval batches gathered across processes.
    "wmt": ({"synthetic": True, "model_config": _WMT}, 8, 16),
    # The tiny decoder (2 blocks of width 32, 16-token windows): the per-token loss sums (train
    # and eval, with the eval's padded last batch) and the tied embedding's gradient.
    "finewebedu_lm": ({"synthetic": True, "model_config": _LM}, 8, 16),
}
