"""The engine: activations, losses, initializers, the dense network, optimizers and schedules."""
