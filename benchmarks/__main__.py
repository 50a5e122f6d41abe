"""``python -m benchmarks``: every issue-9 figure in one run (benchmarks/run.py)."""

import sys

from benchmarks.run import main

sys.exit(main())
