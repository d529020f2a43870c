"""``python -m weaver_facade.contract``: see ``weaver_facade.contract._cli``."""

import sys

from ._cli import main

sys.exit(main())
