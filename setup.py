"""Optional mypyc build of simsip's hot path (issue 9); plain ``pip install`` stays pure Python.

``SIMSIP_MYPYC=1 pip install -e .`` (or ``SIMSIP_MYPYC=1 python setup.py build_ext --inplace``)
compiles the modules below as one mypyc group when mypy and a C compiler are there. Any failure
falls back to the pure-Python package: the build never fails the install because of mypyc.
"""

import os
import sys

from setuptools import setup

# The per-message hot path: protocol cores, their SimPy drivers, the link model, the engine and
# the per-call folding. Compiled together: calls between them stay native.
COMPILED = [
    "simsip/sip/message.py",
    "simsip/sip/transaction.py",
    "simsip/sip/dialog.py",
    "simsip/sip/ua.py",
    "simsip/sip/events.py",
    "simsip/sip/timers.py",
    "simsip/agents/base.py",
    "simsip/agents/ua.py",
    "simsip/agents/proxy.py",  # subclasses a compiled Agent: interpreted classes cannot
    "simsip/agents/b2bua.py",
    "simsip/net/network.py",
    "simsip/metrics/measures.py",
    "simsip/engine.py",
]


def _ext_modules() -> list:
    """The mypyc extensions, or none (pure Python) when not asked for or not buildable."""
    if os.environ.get("SIMSIP_MYPYC") != "1":
        return []
    try:
        from mypyc.build import mypycify

        return mypycify(["--config-file", "mypyc.ini", *COMPILED], opt_level="3")
    except Exception as exc:  # no mypy, a mypyc error: ship pure Python
        print(f"simsip: mypyc build skipped ({type(exc).__name__}: {exc}); pure Python", file=sys.stderr)
        return []


setup(ext_modules=_ext_modules())
