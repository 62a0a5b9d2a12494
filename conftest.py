"""Test-suite settings (repository root, so they hold for `pytest lectures/X.ipynb` too).

These variables are set before nbval starts any kernel, so every kernel inherits them.
"""
import os

os.environ.setdefault("CI", "true")            # smoke mode (Pyro's convention)
os.environ["LVM_STRICT_CHECKS"] = "1"          # a failed self-check raises
os.environ.setdefault("LVM_NUM_THREADS", "1")  # small models run fastest on one thread
os.environ.setdefault("MPLBACKEND", "Agg")
# Every notebook computes on a simulated accelerator (utils/_simulated_device.py): a CPU device
# that refuses what CUDA and mps refuse, so device bugs fail here although CI has no GPU.
os.environ.setdefault("LVM_SIMULATED_ACCELERATOR", "1")



def _our_modules() -> list[str]:
    """The modules the course's own code runs as in a kernel or script: utils.* and __main__."""
    root = os.path.dirname(os.path.abspath(__file__))
    names = ["__main__"]
    for folder, _, files in os.walk(os.path.join(root, "utils")):
        package = os.path.relpath(folder, root).replace(os.sep, ".")
        names += [package if f == "__init__.py" else f"{package}.{f[:-3]}"
                  for f in sorted(files) if f.endswith(".py")]
    return names


# Text files opened without an explicit encoding: kernels, scripts and pytest-xdist workers warn
# (EncodingWarning, as `make test`'s `-X warn_default_encoding` does for this process); the
# warning is an error in the course's own code (notebook cells, utils) and silent in third-party
# packages (torch opens /proc/self/maps at import), so no kernel prints it. pytest.ini holds the
# same rule for the tests themselves. With -W/PYTHONWARNINGS the last matching entry wins.
os.environ["PYTHONWARNDEFAULTENCODING"] = "1"
os.environ["PYTHONWARNINGS"] = ",".join(
    [os.environ.get("PYTHONWARNINGS", ""), "ignore::EncodingWarning"]
    + [f"error::EncodingWarning:{m}" for m in _our_modules()]).lstrip(",")
