"""nncli: train dense neural networks written from scratch in numpy, from a YAML config.

The Python API (see README, "Python API"):

    import nncli
    run = nncli.train("configs/xor.yaml", overrides={"optimizer.lr": 0.5}, runs_dir="runs")
    run = nncli.load_run("runs/xor-20261127-150521")
    cfg = nncli.load_config("configs/xor.yaml", ["train.epochs=10"])
    report = nncli.gradcheck(cfg)
    result = nncli.sweep("configs/xor.yaml", {"optimizer.lr": [0.05, 0.25, 1]}, seeds=10)
    nncli.export("runs/xor-20261127-150521", "onnx", check=True)   # also "tensorboard"

The functions are imported on first use (module __getattr__), so `import nncli` loads neither numpy's
users nor pydantic, Typer or Rich.
"""

__version__ = "0.1.0"

_API = {"train", "resume", "load_run", "load_config", "gradcheck", "sweep", "export", "trace", "Run",
        "Events"}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        from . import api  # lazy on purpose: `import nncli` stays cheap (start-up time of the CLI)

        return getattr(api, name)
    raise AttributeError(f"module 'nncli' has no attribute {name!r}")


def __dir__():
    return __all__
