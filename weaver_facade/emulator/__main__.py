"""``python -m weaver_facade.emulator``: the same command as ``weaver-facade emulator``."""

from weaver_facade.emulator._cli import emulator

if __name__ == "__main__":
    emulator(prog_name="python -m weaver_facade.emulator")
