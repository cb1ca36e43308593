"""`python -m goscope`: the command line."""

import sys

from goscope.cli import main

sys.exit(main())
