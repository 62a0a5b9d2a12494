"""Would `pip install -r requirements.txt` replace what a managed image already has?

    python -m tools.install_report REPORT.json [PACKAGE ...]

REPORT.json is what `pip install --dry-run --report REPORT.json -r requirements.txt` wrote in an
environment that already holds the image's packages (`make install-check` makes one with torch
2.6, torchvision 0.21, numpy 2.0.2 and matplotlib 3.9, as JupyterHub and Colab images of the last
two years carry). Prints what pip would install and exits 1 if that includes any of the PACKAGEs
(default: torch, torchvision, numpy, matplotlib), naming them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

PROTECTED = ("torch", "torchvision", "numpy", "matplotlib")


def would_install(report: dict) -> dict[str, str]:
    """Package name → version for every package pip's report says it would install."""
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in report.get("install", [])}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    protected = [p.lower() for p in argv[1:]] or list(PROTECTED)
    installs = would_install(report)
    print(f"pip would install {len(installs)} packages: "
          + ", ".join(f"{name} {version}" for name, version in sorted(installs.items())))
    replaced = sorted(set(installs) & set(protected))
    if replaced:
        print(f"✗ it would replace the environment's {', '.join(replaced)}: lower the bounds in "
              "requirements.txt to versions the course was run with (make test-lowest)")
        return 1
    print(f"✓ none of {', '.join(protected)} would change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
