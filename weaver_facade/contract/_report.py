"""The report: one line per finding on stdout; JSON and JUnit XML files under --report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from ._findings import KEY_PLACEHOLDER, Finding
from ._kit import ContractReport

__all__ = ["JSON_NAME", "JUNIT_NAME", "render_text", "to_json", "write_reports"]

JSON_NAME = "contract-report.json"
JUNIT_NAME = "contract-junit.xml"


def render_text(report: ContractReport) -> list[str]:
    """The lines printed at the end of a run."""
    lines = [f"contract test of {report.base_url} against {report.spec_file.name}"]
    if report.extensions is not None:
        probe = report.extensions
        for label, names in (
            ("offered", probe.offered),
            ("missing", probe.missing),
            ("undetermined", probe.undetermined),
        ):
            if names:
                lines.append(f"  extensions {label}: {', '.join(names)}")
    if report.conformance is not None:
        c = report.conformance
        requests = sum(c.statuses.values())
        lines.append(
            f"  conformance: {requests} requests over {len(c.operations)} operations "
            f"in {c.seconds:.1f} s"
        )
    if report.lifecycle is not None:
        steps = report.lifecycle.steps
        passed = sum(1 for s in steps if s.status == "passed")
        lines.append(
            f"  lifecycle: {passed}/{len(steps)} steps passed in {report.lifecycle.seconds:.1f} s"
            f" (base model {report.base_model})"
        )
        for step in steps:
            if step.status != "passed":
                detail = f": {step.detail}" if step.detail else ""
                lines.append(f"    {step.status}: {step.name}{detail}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    if report.findings:
        lines.append(f"{len(report.findings)} finding(s):")
        lines.extend(finding.line() for finding in report.findings)
        if any(f.curl for f in report.findings):
            lines.append(f"(reproductions read the API key from {KEY_PLACEHOLDER})")
    verdict = "FAIL" if report.findings else "PASS"
    if report.conformance is not None and report.conformance.cut_short:
        verdict += " (incomplete: conformance stopped at its time limit)"
    lines.append(
        f"contract: {verdict}, {len(report.findings)} finding(s) in {report.seconds:.1f} s"
    )
    return lines


def to_json(report: ContractReport) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if report.conformance is not None:
        c = report.conformance
        operations: dict[str, dict[str, int]] = defaultdict(dict)
        for (label, status), count in sorted(c.statuses.items()):
            operations[label][str(status)] = count
        parts["conformance"] = {
            "seconds": round(c.seconds, 3),
            "stop_reason": c.stop_reason,
            "complete": not c.cut_short,
            "requests": sum(c.statuses.values()),
            "statuses": dict(operations),
            "findings": sum(1 for f in report.findings if _in(f, "conformance")),
        }
    if report.lifecycle is not None:
        parts["lifecycle"] = {
            "seconds": round(report.lifecycle.seconds, 3),
            "base_model": report.base_model,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "seconds": round(s.seconds, 3),
                    "detail": s.detail,
                }
                for s in report.lifecycle.steps
            ],
            "findings": sum(1 for f in report.findings if _in(f, "lifecycle")),
        }
    return {
        "base_url": report.base_url,
        "spec": report.spec_file.name,
        "started_at": report.started_at,
        "seconds": round(report.seconds, 3),
        "result": "pass" if report.passed else "fail",
        "findings": [f.to_json() for f in report.findings],
        "notes": report.notes,
        "extensions": report.extensions.to_json() if report.extensions is not None else None,
        "parts": parts,
    }


def _in(finding: Finding, part: str) -> bool:
    return finding.part == part or part in finding.also_in


def _failure(case: ET.Element, finding: Finding) -> None:
    failure = ET.SubElement(case, "failure", {"message": finding.message, "type": finding.check})
    failure.text = "\n".join(
        [
            f"expected: {finding.expected}",
            f"got: {finding.got}",
            *([f"reproduce: {finding.curl}"] if finding.curl else []),
        ]
    )


def to_junit(report: ContractReport) -> ET.Element:
    """One suite per part: a case per operation (conformance), a case per step (lifecycle)."""
    root = ET.Element("testsuites", {"name": "weaver contract", "time": f"{report.seconds:.3f}"})
    if report.conformance is not None:
        c = report.conformance
        by_operation: dict[str, list[Finding]] = defaultdict(list)
        for finding in report.findings:
            if _in(finding, "conformance"):
                by_operation[finding.operation].append(finding)
        labels = sorted({*c.operations, *by_operation})
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": "conformance",
                "tests": str(len(labels)),
                "failures": str(sum(1 for label in labels if by_operation.get(label))),
                "errors": "0",
                "skipped": "0",
                "time": f"{c.seconds:.3f}",
            },
        )
        for label in labels:
            case = ET.SubElement(suite, "testcase", {"classname": "conformance", "name": label})
            for finding in by_operation.get(label, []):
                _failure(case, finding)
    if report.lifecycle is not None:
        steps = report.lifecycle.steps
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": "lifecycle",
                "tests": str(len(steps)),
                "failures": str(sum(1 for s in steps if s.status == "failed")),
                "errors": "0",
                "skipped": str(sum(1 for s in steps if s.status == "skipped")),
                "time": f"{report.lifecycle.seconds:.3f}",
            },
        )
        for step in steps:
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": "lifecycle", "name": step.name, "time": f"{step.seconds:.3f}"},
            )
            if step.status == "skipped":
                ET.SubElement(case, "skipped", {"message": step.detail})
            for finding in step.findings:
                _failure(case, finding)
            if step.status == "failed" and not step.findings:
                ET.SubElement(case, "failure", {"message": step.detail or "failed"})
    if report.extensions is not None:
        probe = report.extensions
        for suite in root:
            properties = ET.Element("properties")
            for key, names in (
                ("extensions.offered", probe.offered),
                ("extensions.missing", probe.missing),
                ("extensions.undetermined", probe.undetermined),
            ):
                ET.SubElement(properties, "property", {"name": key, "value": ",".join(names)})
            suite.insert(0, properties)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for suite in root:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    return root


def write_reports(report: ContractReport, directory: Path) -> list[Path]:
    """Write the JSON and JUnit reports; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / JSON_NAME
    json_path.write_text(json.dumps(to_json(report), indent=2) + "\n", encoding="utf-8")
    junit_path = directory / JUNIT_NAME
    tree = ET.ElementTree(to_junit(report))
    ET.indent(tree)
    tree.write(junit_path, encoding="utf-8", xml_declaration=True)
    return [json_path, junit_path]
