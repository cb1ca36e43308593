"""Loads this installed goscope into GDB:  (gdb) source .../site-packages/goscope/gdbinit.py

``goscope gdb-init`` prints that line for the installation it runs from. GDB's embedded Python
need not be the one goscope was installed with (a virtualenv's site-packages is not on its
path), so the directory holding this package is put on GDB's ``sys.path`` first; the native
module is abi3, so any CPython 3.8+ loads it. On failure one line says what is wrong.
Sourcing it again is harmless.
"""

from __future__ import annotations


def _goscope_load_installed() -> None:
    import importlib
    import os
    import sys

    site_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if site_dir not in sys.path:
        sys.path.insert(0, site_dir)
    try:
        importlib.import_module("goscope._native")
        importlib.import_module("goscope.gdb").register()
    except Exception as error:  # a broken installation must not leave a traceback in GDB
        print(
            f"goscope: cannot load goscope from {site_dir} ({type(error).__name__}: {error})"
            " \N{EM DASH} reinstall the goscope wheel"
        )


_goscope_load_installed()
del _goscope_load_installed
