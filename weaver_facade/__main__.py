"""``python -m weaver_facade``: the ``weaver-facade`` command, where its script is not on PATH.

Python imports the package before this runs, so a Ctrl-C while it loads is Python's own
traceback, not the console script's ``error: interrupted`` (``_weaver_facade_cli``).
"""

if __name__ == "__main__":
    from _weaver_facade_cli import run

    run()
