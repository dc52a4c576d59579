"""hookline's benchmark suite; run it with ``make bench`` or ``python -m bench`` (see
docs/benchmarks.md). Not part of the test suite."""
