"""``python -m weaver_facade.contract``: see ``weaver_facade.contract._cli``."""

import sys

from weaver_facade._extras import require

if __name__ == "__main__":
    require("contract", "python -m weaver_facade.contract")
    from weaver_facade.contract._cli import main

    sys.exit(main(prog="python -m weaver_facade.contract"))
