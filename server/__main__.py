"""`python -m server` is the same program as `timetrail`."""

import sys

from .cli import main

sys.exit(main())
