"""``tests.support.ctrl_c_points``: what its Ctrl-Cs leave for the tests after them."""

from __future__ import annotations

import io
import logging
import threading

from tests.support.ctrl_c_points import every_point, interrupted_at


def test_a_ctrl_c_at_every_point_of_a_warning_leaves_the_log_to_other_threads() -> None:
    # A Ctrl-C as a logging handler's lock was taken left this thread holding it for good:
    # the first thread of a later test to log through that handler (pytest's own stay for
    # the session) waited on it forever, so a close's WARNING under every_point hung the
    # tests after it.
    log = logging.getLogger("tests.ctrl_c_points")
    handler = logging.StreamHandler(io.StringIO())
    log.addHandler(handler)
    log.propagate = False

    def logs_in_another_thread() -> bool:
        other = threading.Thread(target=log.warning, args=("elsewhere",), daemon=True)
        other.start()
        other.join(5)
        return not other.is_alive()

    try:
        every_point(
            lambda at, kept: interrupted_at(at, lambda: log.warning("here"), kept),
            logs_in_another_thread,
        )
    finally:
        log.removeHandler(handler)
        log.propagate = True
