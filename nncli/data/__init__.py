"""Datasets: built-in generators and readers of files, behind one registry (see datasets.py)."""
