"""nncli: train dense neural networks written from scratch in numpy, from a YAML config."""

__version__ = "0.1.0"
