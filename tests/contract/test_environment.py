"""The kit trusts and routes as the environment says, in every part, as the facade does."""

from __future__ import annotations

import pytest

from tests.support.scripted_http import Reply, ScriptedServer
from weaver_facade.contract._conformance import schemathesis_config
from weaver_facade.contract._patience import patient_client

CA = "/etc/company/ca.pem"


@pytest.fixture
def no_tls_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_conformance_part_trusts_ssl_cert_file(no_tls_settings: pytest.MonkeyPatch) -> None:
    # schemathesis sends with requests, which reads REQUESTS_CA_BUNDLE only: against a
    # server with a company CA every request was a finding ("SSL verification problem").
    assert schemathesis_config(api_key=None).projects.default.tls_verify is True
    no_tls_settings.setenv("SSL_CERT_FILE", CA)
    no_tls_settings.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")  # curl's
    assert schemathesis_config(api_key=None).projects.default.tls_verify == CA
    no_tls_settings.setenv("REQUESTS_CA_BUNDLE", "/elsewhere.pem")  # requests' own wins
    assert schemathesis_config(api_key=None).projects.default.tls_verify is True


def test_the_kits_own_requests_go_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def as_proxy(method: str, path: str) -> Reply:
        return 200, {"seen": path}, {}

    for name in ("HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with ScriptedServer(as_proxy) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        with patient_client() as client:
            assert client.get("http://weaver.invalid/api/v1/supported-models").status_code == 200
    assert proxy.requests == [("GET", "http://weaver.invalid/api/v1/supported-models")]
