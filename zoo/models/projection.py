"""cGANs with a projection discriminator (Miyato & Koyama, ICLR 2018), on SNGAN's ResNets.

D(x, y) takes the label by an inner product with its features instead of as an input:

    f(x, y) = y^T V phi(x) + psi(phi(x)),                                            eq. (3)

phi(x) the ResNet's global sum pool, psi a linear map to one logit, V the class embedding
matrix, every one of them spectrally normalised (`zoo.networks.projection`). G is SNGAN's
ResNet generator with conditional batch normalization in every block,

    CBN(x, y) = (1 + gamma(y)) * BN(x) + beta(y),

gamma and beta per-class embeddings started at zero, so G starts with plain BN
(`zoo.networks.conditional_bn`; the authors' Chainer code holds the gain gamma(y) itself,
started at 1: the same function, but a penalty or a small initialisation of the embedding
then pulls the gain to 0). The last BN before the output convolution stays unconditional,
as in their code. The labels go through the zoo's conditional plumbing (`cgan`): training
takes (images, labels) batches and draws each step's fakes for the batch's labels;
`generate(n, seed, labels)` and the exported `sample` signature take `labels`.

Settings: SNGAN's (`sngan`): the ResNets of Miyato et al.'s Table 4 at 32x32 (G 256, D 128
channels, z of 128), the hinge loss, Adam(2e-4, beta_1 = 0, beta_2 = 0.9), n_dis = 5 D
updates per G update, batch 64, which are also the projection paper's ImageNet settings
(without its linear learning-rate decay); fashion_mnist is resized to 32x32.

Measured on fashion_mnist (seed 0; `--steps=400 --batch_size=64 --set=width=32
--set=d_width=32`, the rest default: 32x32, z of 128, n_dis 5; 456 s on 2 CPU cores shared
with other jobs): `python -m zoo.evaluate`'s FCD (10,000 samples, labels drawn uniformly,
against the 10,000 test images loaded at 32x32 and resized back to 28x28 as the samples are)
is 82.0 untrained and 60.7 after 400 steps (precision 0.64, recall 0.13); the zoo's
classifier puts 18.8% of 1,000 samples of given labels in their class (10% by chance).
"""
from __future__ import annotations

import dataclasses

from zoo.models.cgan import CGAN
from zoo.models.registry import MODELS
from zoo.models.sngan import SNGAN


@MODELS.register("projection")
class Projection(SNGAN, CGAN):
    """SNGAN made class-conditional: CBN in G, the projection term in D, cgan's labels."""

    @dataclasses.dataclass(frozen=True)
    class Config(SNGAN.Config, CGAN.Config):
        """SNGAN's networks and settings, for the dataset's classes."""

        num_classes: int | None = None
        label_embedding: int | None = None
        label_channels: int | None = None
        kind_addons = {}
