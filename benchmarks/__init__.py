"""Measured claims about the course: lecture run times and memory, training throughput against
the usual DataLoader pattern, overhead over the compute floor, Pyro's cost, model quality and the
test suite's wall time. Run ``python -m benchmarks.run --help`` (or ``make benchmark``).

Modules: ``report`` (pure helpers: spreads, ratios, Markdown tables, the README block),
``measure`` (in-process timings and quality), ``pyro_vae`` (the Pyro model/guide timed against the
hand-written loop), ``notebooks`` (lectures executed headless, the test suite timed), ``run`` (CLI).
"""
