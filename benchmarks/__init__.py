"""simsip benchmarks: ``python -m benchmarks`` runs every figure of issue 9 (see benchmarks/run.py)."""
