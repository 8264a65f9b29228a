"""``python -m tsdiff``: the ``tsdiff`` command."""

import sys

from tsdiff.cli import main

sys.exit(main())
