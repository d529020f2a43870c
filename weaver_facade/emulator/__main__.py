"""``python -m weaver_facade.emulator``: the same command as ``weaver-facade emulator``."""

from weaver_facade._extras import require

if __name__ == "__main__":
    require("emulator", "python -m weaver_facade.emulator")
    from weaver_facade._stdout import output_errors
    from weaver_facade.emulator._cli import emulator

    with output_errors():
        emulator(prog_name="python -m weaver_facade.emulator")
