"""`python -m tools.site`: build the course site (see tools/site/__init__.py)."""
import sys

from tools.site import main

sys.exit(main())
