"""``python -m weaver_facade``: the ``weaver-facade`` command, where its script is not on PATH."""

if __name__ == "__main__":
    from _weaver_facade_cli import run

    run()
