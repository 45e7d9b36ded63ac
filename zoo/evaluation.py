"""What a finished (or running) model is pictured by, per kind of data.

(Its numbers come from `zoo.metrics.report.measure`, the one measurement of the zoo.)
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo import data as zoo_data
from zoo import plotting
from zoo.metrics.mixture import MIXTURE_SAMPLES

GRID_IMAGES = 64


def save_samples_picture(model: keras.Model, info: Any, path: str, title: str | None = None,
                         seed: int = 0) -> str:
    """A scatter plot over the true mode centres (mixtures) or an image grid (images)."""
    if info.kind == "mixture":
        return plotting.save_scatter(model.generate(MIXTURE_SAMPLES, seed=seed), path,
                                     centers=info.centers, title=title)
    return plotting.save_image_grid(model.generate(GRID_IMAGES, seed=seed), path, title=title)


def save_walk(model: keras.Model, info: Any, path: str, num_images: int = 8,
              steps: int = 10, seed: int = 0) -> str:
    """A Markov chain started from data, as a picture: the AAN's Gibbs walks of its
    associative memory decoded by G (its paper's Figure 3), the VCD's transition chain (its
    paper's Figure 5); any model with `walk(images, steps, seed)` and a `walk_title`.

    Chains start from `num_images` real test examples; each row of the grid is one example
    followed by the chain's samples after 1..steps moves (for 2-D mixtures, each chain's
    trajectory over the mode centres).
    """
    if not hasattr(model, "walk"):
        raise ValueError(f"{type(model).__name__} has no Markov chain to walk; walks need "
                         "an AAN (Gibbs walks of its memory) or a VCD (its transition chain)")
    real = next(iter(zoo_data.load(info.name, batch_size=num_images, split="test", seed=seed)))
    walk = model.walk(real, steps=steps, seed=seed)
    rows = np.concatenate([np.asarray(real)[:, None], walk], axis=1)
    title = model.walk_title.format(steps=steps)
    if info.kind == "mixture":
        return plotting.save_trajectories(rows, path, centers=info.centers, title=title)
    return plotting.save_image_grid(rows.reshape((-1,) + rows.shape[2:]), path,
                                    ncols=steps + 1, title=title)
