"""The report: one line per finding on stdout; JSON and JUnit XML files under --report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from .._plural import counted
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
        if probe.undetermined:  # the puzzling ones: say why, not only in the JSON report
            evidence = probe.to_json()["evidence"]
            alike: dict[str, list[str]] = defaultdict(list)  # a probe stopped early: one why
            for name in probe.undetermined:
                alike[evidence[name]].append(name)
            lines.append("    not held to them; the probe's evidence:")
            lines.extend(f"    {', '.join(names)}: {why}" for why, names in alike.items())
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
    findings = counted(len(report.findings), "finding")
    if report.findings:
        lines.append(f"{findings}:")
        lines.extend(finding.line() for finding in report.findings)
        if any(f.curl for f in report.findings):
            lines.append(f"(reproductions read the API key from {KEY_PLACEHOLDER})")
    verdict = "FAIL" if report.findings else "PASS"
    if report.conformance is not None and report.conformance.cut_short:
        verdict += " (incomplete: conformance stopped at its time limit)"
    lines.append(f"contract: {verdict}, {findings} in {report.seconds:.1f} s")
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
        "complete": report.complete,
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


def _case_name(finding: Finding, seen: dict[str, int], step: str | None = None) -> str:
    base = f"{step or finding.operation} [{finding.check}]"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base} #{seen[base]}"


def _step_of(finding: Finding, steps: list[Any]) -> str | None:
    """The lifecycle step whose findings hold ``finding`` (a folded finding's message
    only begins with the step's)."""
    for step in steps:
        for own in step.findings:
            if (own.operation, own.check) == (finding.operation, finding.check) and (
                finding.message.startswith(own.message)
            ):
                return str(step.name)
    return None


def to_junit(report: ContractReport) -> ET.Element:
    """One suite per part; each finding is a failed case of its own, in the suite of the
    part that found it first, so that the failures agree with the text's count of findings.
    Operations (conformance) and steps (lifecycle) without a finding are passed cases, a
    skipped step a skipped case; a run cut short has a skipped case that says so."""
    root = ET.Element("testsuites", {"name": "weaver contract", "time": f"{report.seconds:.3f}"})
    seen: dict[str, int] = {}
    if report.conformance is not None:
        c = report.conformance
        found = [f for f in report.findings if f.part == "conformance"]
        suite = ET.SubElement(
            root, "testsuite", {"name": "conformance", "time": f"{c.seconds:.3f}"}
        )
        failed = {f.operation for f in report.findings if _in(f, "conformance")}
        for label in sorted(set(c.operations) - failed):
            ET.SubElement(suite, "testcase", {"classname": "conformance", "name": label})
        for finding in found:
            case = ET.SubElement(
                suite, "testcase", {"classname": "conformance", "name": _case_name(finding, seen)}
            )
            _failure(case, finding)
        if c.cut_short:
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": "conformance", "name": "conformance ran to its end"},
            )
            ET.SubElement(
                case,
                "skipped",
                {"message": "incomplete: conformance stopped at its time limit"},
            )
    if report.lifecycle is not None:
        steps = report.lifecycle.steps
        suite = ET.SubElement(
            root, "testsuite", {"name": "lifecycle", "time": f"{report.lifecycle.seconds:.3f}"}
        )
        for step in steps:
            if step.status == "failed":
                continue  # its findings are cases below, or in conformance's suite
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": "lifecycle", "name": step.name, "time": f"{step.seconds:.3f}"},
            )
            if step.status == "skipped":
                ET.SubElement(case, "skipped", {"message": step.detail})
        for finding in (f for f in report.findings if f.part == "lifecycle"):
            name = _case_name(finding, seen, _step_of(finding, steps))
            case = ET.SubElement(suite, "testcase", {"classname": "lifecycle", "name": name})
            _failure(case, finding)
    # Findings of no suite above still count: of neither part (none today), or of a part
    # that did not run (`missing_auth` from the key's probe, with --only lifecycle).
    written = {
        p
        for p, run in (("conformance", report.conformance), ("lifecycle", report.lifecycle))
        if run is not None
    }
    others = [f for f in report.findings if f.part not in written]
    if others:
        suite = ET.SubElement(root, "testsuite", {"name": "other"})
        for finding in others:
            case = ET.SubElement(
                suite, "testcase", {"classname": finding.part, "name": _case_name(finding, seen)}
            )
            _failure(case, finding)
    for suite in root:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for case in cases if case.find("failure") is not None)))
        suite.set("errors", "0")
        suite.set("skipped", str(sum(1 for case in cases if case.find("skipped") is not None)))
        properties = ET.Element("properties")
        ET.SubElement(
            properties,
            "property",
            {"name": "complete", "value": "true" if report.complete else "false"},
        )
        if report.extensions is not None:
            probe = report.extensions
            for key, names in (
                ("extensions.offered", probe.offered),
                ("extensions.missing", probe.missing),
                ("extensions.undetermined", probe.undetermined),
            ):
                ET.SubElement(properties, "property", {"name": key, "value": ",".join(names)})
        suite.insert(0, properties)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
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
