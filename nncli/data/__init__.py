"""Datasets: built-in generators and readers of files, behind one registry (datasets.DATASETS).

Each module registers its datasets when imported; importing this package imports them all (one line per
module), so `DATASETS` is complete wherever it is used.
"""

from . import datasets, files, images, linear  # noqa: F401  (registration)
from .datasets import DATASETS, Dataset, DatasetSource  # noqa: F401
