"""EmulatorConfig: each wrong option is a ValueError that names it, as the command line
and the pytest plugin pass options on from plain data."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from weaver_facade.emulator import EmulatorConfig


@pytest.mark.parametrize("key", [" secret-k", "secret-k\t", "secret-k\n", "secr\u00e9t-k", "\x7f"])
def test_a_key_no_client_can_send_is_refused_unshown(tmp_path: Path, key: str) -> None:
    # Taken, and every request was refused (401): a header carries printable ASCII only,
    # and its value's blanks at either end are not part of it (the facade strips them).
    with pytest.raises(ValueError, match=r"^api_keys must be printable ASCII") as info:
        EmulatorConfig(data_dir=tmp_path, api_keys=("good-key", key))
    assert key.strip() not in str(info.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        # Each was a bare TypeError or AttributeError naming no option (or none at all).
        ({"shard_size": "5GB"}, "shard_size must be a whole number of bytes >= 1, not '5GB'"),
        ({"max_body_size": 0}, "max_body_size must be a whole number of bytes >= 1, not 0"),
        ({"workers": "4"}, "workers must be a whole number of threads >= 1, not '4'"),
        ({"url_ttl": "60"}, "url_ttl must be a number, not '60'"),
        ({"url_ttl": math.inf}, "url_ttl must be a finite number of seconds > 0"),
        # Taken: a URL whose expiry has 13 digits is refused as not signed, and one past the
        # year 9999 failed each download descriptor (500); `--url-ttl` refuses over a year.
        ({"url_ttl": 1e12}, "url_ttl must be at most 31536000 seconds (a year)"),
        ({"url_ttl": 31536001}, "url_ttl must be at most 31536000 seconds (a year)"),
        ({"max_long_poll": "5"}, "max_long_poll must be a number, not '5'"),
        ({"default_sampling_ttl": 1.5}, "default_sampling_ttl must be a whole number"),
        ({"storage_url": 123}, "storage_url must be a str, not 123"),
        # Taken, and each client's download of its signed URLs failed (UnfetchableURLError).
        ({"storage_url": "http://a..b"}, "storage_url's host 'a..b' is not a valid host name"),
        ({"storage_url": "http://xn--a.test:9000"}, "storage_url's host 'xn--a.test' is not"),
        ({"storage_url": "http://a:b"}, "storage_url must be scheme://host[:port]"),
        ({"storage_url": "http://:80"}, "storage_url must be scheme://host[:port]"),
        ({"storage_url": "http://a:99999"}, "storage_url must be scheme://host[:port]"),
        # Port 0 is no port a client connects to: each download failed with "cannot connect".
        ({"storage_url": "http://a:0"}, "storage_url must be scheme://host[:port]"),
        ({"storage_url": "https://a:0"}, "storage_url must be scheme://host[:port]"),
        ({"clock": 5}, "clock must be a function giving seconds since the epoch"),
        ({"honor_long_poll": "no"}, "honor_long_poll must be True or False, not 'no'"),
        # Infinity overflowed the clock: every such operation failed as an internal error.
        ({"latency": {"save_checkpoint": math.inf}}, "latency for save_checkpoint must be a "),
    ],
)
def test_a_wrong_option_names_itself(
    tmp_path: Path, options: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(complaint)}"):
        EmulatorConfig(data_dir=tmp_path, **options)
