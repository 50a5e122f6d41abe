"""Optional mypyc build of simsip's hot path (issue 9); plain ``pip install`` stays pure Python.

``SIMSIP_MYPYC=1 pip install -e .`` (or ``SIMSIP_MYPYC=1 python setup.py build_ext --inplace``)
compiles the modules below as one mypyc group when mypy and a C compiler are there. Any failure
falls back to the pure-Python package: the build never fails the install because of mypyc.
Next to the extensions it writes ``simsip/_mypyc_sources.json`` (a hash of each compiled
source), which ``import simsip`` checks so that edited sources never run stale compiled code.
"""

import hashlib
import json
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The per-message hot path: protocol cores with their URIs and reason phrases, their SimPy
# drivers, the link and loss models, the engine, the trace sinks and the per-call folding.
# Compiled together: calls between them stay native.
COMPILED = [
    "simsip/sip/message.py",
    "simsip/sip/uri.py",
    "simsip/sip/codes.py",
    "simsip/sip/transaction.py",
    "simsip/sip/dialog.py",
    "simsip/sip/ua.py",
    "simsip/sip/proxy.py",
    "simsip/sip/events.py",
    "simsip/sip/timers.py",
    "simsip/agents/base.py",
    "simsip/agents/ua.py",
    "simsip/agents/proxy.py",  # subclasses a compiled Agent: interpreted classes cannot
    "simsip/agents/b2bua.py",
    "simsip/net/network.py",
    "simsip/net/models.py",
    "simsip/metrics/measures.py",
    "simsip/metrics/trace.py",
    "simsip/engine.py",
]
MANIFEST = "_mypyc_sources.json"


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


class OptionalBuildExt(build_ext):
    """build_ext that falls back to pure Python when compiling fails, and records what it compiled."""

    def run(self) -> None:
        """Build the extensions; on failure remove any that were built and carry on without them."""
        package = "simsip" if self.inplace else os.path.join(self.build_lib, "simsip")
        manifest = os.path.join(package, MANIFEST)
        if os.path.exists(manifest):
            os.remove(manifest)
        if not self.extensions:
            return
        try:
            super().run()
        except Exception as exc:  # a C compiler error, no compiler: ship pure Python
            print(f"simsip: mypyc build failed ({type(exc).__name__}: {exc}); pure Python", file=sys.stderr)
            for path in self.get_outputs():
                if os.path.exists(path):
                    os.remove(path)
            return
        with open(manifest, "w") as out:
            json.dump({path: hashlib.sha256(open(path, "rb").read()).hexdigest() for path in COMPILED}, out, indent=1)


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
