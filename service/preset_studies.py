"""The ready studies of `GET /v1/presets`, each a body that `POST /v1/studies` takes as it
is. They are kept small (a few hundred steps of small nets) so that each runs on a CPU in
minutes; the remedies study reuses the example specs of service/preset_specs/.
"""

from __future__ import annotations

import copy
from typing import Any

from gradprobe.api import StudyPreset, StudyVariant

# The five remedies of PRODUCT.md section 1 as (preset spec, remedy, the baseline it fixes).
REMEDIES: list[tuple[str, str, str | None]] = [
    ("plain-deep-mlp", "none: a deep sigmoid MLP, y = f(Wx + b)", None),
    ("batchnorm-mlp", "batch normalisation", "plain-deep-mlp"),
    ("residual-mlp", "residual connections, y = F(x) + x", "plain-deep-mlp"),
    ("unet-no-skips", "none: an encoder-decoder without long skips", None),
    ("unet-skips", "long skip connections (U-Net)", "unet-no-skips"),
    ("rnn-tanh", "none: a vanilla tanh RNN", None),
    ("lstm", "a gated recurrent cell (LSTM)", "rnn-tanh"),
]

DIGITS_TRAIN: dict[str, Any] = {
    "steps": 200,
    "batch_size": 128,
    "seed": 0,
    "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
}
DEEP_TANH: dict[str, Any] = {
    "name": "A 30-layer tanh MLP on digits, under each initialisation scheme",
    "model": {"type": "mlp", "depth": 30, "width": 64, "activation": "tanh"},
    "data": {"name": "digits"},
    "train": DIGITS_TRAIN,
    "probe": {"every": 20},
}
DEEP_MLP: dict[str, Any] = {
    "name": "A 20-layer MLP on digits (Xavier init), with each activation function",
    "model": {
        "type": "mlp",
        "depth": 20,
        "width": 64,
        "activation": "relu",
        "init": {"scheme": "xavier_normal"},
    },
    "data": {"name": "digits"},
    "train": DIGITS_TRAIN,
    "probe": {"every": 20},
}
RECURRENT: dict[str, Any] = {
    "name": "A recurrent net on the adding problem: vanilla tanh, LSTM and GRU cells",
    "model": {"type": "rnn", "cell": "tanh", "hidden": 32, "layers": 1},
    "data": {"name": "adding", "length": 30, "samples": 1024},
    "train": {
        "steps": 150,
        "batch_size": 64,
        "seed": 0,
        "optimizer": {"name": "adam", "lr": 0.001},
    },
    "probe": {"every": 15, "timesteps": True},
}


def remedies(specs: dict[str, dict[str, Any]]) -> StudyPreset:
    variants = [
        StudyVariant(name=name, remedy=remedy, compare_with=baseline, spec=specs[name])
        for name, remedy, baseline in REMEDIES
    ]
    return StudyPreset(
        name="vanishing-gradient-remedies",
        title="The five remedies for vanishing gradients, each beside the net it fixes",
        base=specs["plain-deep-mlp"],
        variants=variants,
    )


def post_ln_vs_pre_ln(specs: dict[str, dict[str, Any]]) -> StudyPreset:
    post = "none: LayerNorm after each residual sum (the original Transformer)"
    # The example (12 layers of width 128, 100 steps) with half its batch: the
    # contrast is in the gradients at initialisation, and a CPU runs both in about 2 minutes.
    base = copy.deepcopy(specs["transformer-post-ln"])
    base["train"].update(batch_size=64)
    return StudyPreset(
        name="post-ln-vs-pre-ln",
        title="Post-LN vs Pre-LN Transformer (Xiong et al. 2020)",
        base=base,
        variants=[
            StudyVariant(name="post-ln", remedy=post, overrides={"model.norm_position": "post"}),
            StudyVariant(
                name="pre-ln",
                remedy="LayerNorm at the start of each residual branch",
                compare_with="post-ln",
                overrides={"model.norm_position": "pre"},
            ),
        ],
    )


def grid_study(
    name: str, title: str, base: dict[str, Any], grid: dict[str, list[Any]]
) -> StudyPreset:
    return StudyPreset(name=name, title=title, base=copy.deepcopy(base), grid=grid)


def studies(specs: dict[str, dict[str, Any]]) -> list[StudyPreset]:
    schemes = ["pytorch_default", "xavier_normal", "kaiming_normal", "orthogonal", "lecun_normal"]
    activations = ["sigmoid", "tanh", "softsign", "relu", "leaky_relu", "elu", "selu", "gelu"]
    return [
        remedies(specs),
        post_ln_vs_pre_ln(specs),
        grid_study(
            "initialisation-schemes",
            "Initialisation schemes on a deep tanh MLP",
            DEEP_TANH,
            {"model.init.scheme": schemes},
        ),
        grid_study(
            "activation-functions",
            "Activation functions on a deep MLP",
            DEEP_MLP,
            {"model.activation": activations},
        ),
        grid_study(
            "rnn-lstm-gru-over-length",
            "Vanilla RNN vs LSTM vs GRU as the sequence grows (vanishing through time)",
            RECURRENT,
            {"model.cell": ["tanh", "lstm", "gru"], "data.length": [10, 30, 100]},
        ),
    ]
