"""The contract-test kit: hold any live Weaver server to openapi.yaml, and name every drift.

From the command line (extra ``contract``)::

    weaver-facade contract-test --base-url http://127.0.0.1:8080 --report out/
    python -m weaver_facade.contract --base-url http://127.0.0.1:8080 --api-key KEY --report out/

or from Python::

    from weaver_facade.contract import ContractSettings, run_contract_test

    report = run_contract_test(ContractSettings(base_url="http://127.0.0.1:8080", api_key=key))
    for finding in report.findings:
        print(finding.line())

First a short probe finds which of the spec's extensions the server offers
(``report.extensions``: offered, missing, undetermined); the server is held only to those
it offers. Then two parts: schemathesis over every operation of the spec (examples,
coverage, fuzzing and stateful phases, every check), then the checkpoint lifecycle through
the facade. Each
difference from the spec is a ``Finding``: the operation, the check, one sentence naming the
problem, what was expected and what came back, and a curl command that reproduces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._extensions import ExtensionProbe
    from ._findings import Finding
    from ._kit import (
        ContractReport,
        ContractSettings,
        ServerUnreachable,
        UnknownBaseModel,
        run_contract_test,
    )
    from ._spec import UnusableSpec

__all__ = [
    "ContractReport",
    "ContractSettings",
    "ExtensionProbe",
    "Finding",
    "ServerUnreachable",
    "UnknownBaseModel",
    "UnusableSpec",
    "run_contract_test",
]

# Imported on first use, so that `python -m weaver_facade.contract` can name a missing extra.
if not TYPE_CHECKING:  # a checker sees the imports above, and so names a misspelt one
    __getattr__ = lazy_attributes(
        __name__,
        {
            "ExtensionProbe": "._extensions",
            "Finding": "._findings",
            "ContractReport": "._kit",
            "ContractSettings": "._kit",
            "ServerUnreachable": "._kit",
            "UnknownBaseModel": "._kit",
            "UnusableSpec": "._spec",
            "run_contract_test": "._kit",
        },
        "contract",
    )
