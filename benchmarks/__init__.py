"""Benchmarks: `python -m benchmarks.serving` (REST and gRPC serving against in-process calls),
`python -m benchmarks.quality` (every variant on the mixtures and Fashion-MNIST: RESULTS.md),
`python -m benchmarks.speed` (steps/s and peak memory per variant and batch size: SPEED.md),
`python -m benchmarks.annealing` (beta-GAN against the minimax GAN: ANNEALING.md)."""
