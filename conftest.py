"""Test-suite settings (repository root, so they hold for `pytest lectures/X.ipynb` too).

These variables are set before nbval starts any kernel, so every kernel inherits them.
"""
import os

os.environ.setdefault("CI", "true")            # smoke mode (Pyro's convention)
os.environ["LVM_STRICT_CHECKS"] = "1"          # a failed self-check raises
os.environ.setdefault("LVM_NUM_THREADS", "1")  # small models run fastest on one thread
os.environ.setdefault("MPLBACKEND", "Agg")

