"""``python -m weaver_facade.contract``: see ``weaver_facade.contract._cli``."""

from weaver_facade._extras import require

if __name__ == "__main__":
    require("contract", "python -m weaver_facade.contract")
    from weaver_facade.contract._cli import run

    run("python -m weaver_facade.contract")
