#!/usr/bin/env python3
"""Writes Tests/OCPP201Tests/Fixtures/<Action><Request|Response>.json: for every OCPP 2.0.1 message, a payload with
every field its schema has (the golden message), and faults made from it, each with the kind of fault the schema
makes it (which decides the CallError) and where. The reference validator (Python `jsonschema`, draft 6) confirms
that the golden payload fits and that each fault does not, so the Swift validator is tested against the reference on
every message of the protocol.

    .venv/bin/python scripts/ocpp201-fixtures.py [output folder, default Tests/OCPP201Tests/Fixtures]"""
import copy
import json
import sys
from pathlib import Path

import jsonschema
import ocpp

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(ocpp.__file__).parent / "v201" / "schemas"
TARGET = ROOT / "Tests" / "OCPP201Tests" / "Fixtures"


def resolve(node, schema):
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].split("/")[-1]]
    return node


def instance(node, schema, depth=0):
    """A value for the schema node with every property filled in (arrays with one element, or their minimum)."""
    node = resolve(node, schema)
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if kind == "object":
        properties = node.get("properties", {})
        out = {}
        for name, child in properties.items():
            if depth > 6 and name not in node.get("required", []):
                continue
            out[name] = instance(child, schema, depth + 1)
        return out
    if kind == "array":
        count = max(1, node.get("minItems", 1))
        return [instance(node["items"], schema, depth + 1) for _ in range(count)]
    if kind == "string":
        if node.get("format") == "date-time":
            return "2026-12-07T15:00:00Z"
        return "x" * min(node.get("maxLength", 8), 8)
    if kind == "integer":
        return max(node.get("minimum", 1), min(node.get("maximum", 1), 1)) if "maximum" in node else max(node.get("minimum", 1), 1)
    if kind == "number":
        return 1.5 if node.get("minimum", 0) <= 1.5 <= node.get("maximum", 1e9) else node.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind is None:
        return "anything"  # DataTransfer's data: any JSON
    raise ValueError(f"no instance for {node}")


def walk(value, node, schema, path=""):
    """(path, node, value) of every field of the instance, depth first."""
    node = resolve(node, schema)
    yield path, node, value
    if isinstance(value, dict):
        for name, child in value.items():
            yield from walk(child, node.get("properties", {}).get(name, {}), schema, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, node.get("items", {}), schema, f"{path}[{index}]")


def set_at(document, path, change):
    """Applies change(parent, key) at path ("a.b[0].c")."""
    parts = []
    for piece in path.replace("[", ".[").split("."):
        parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    target = document
    for part in parts[:-1]:
        target = target[part]
    change(target, parts[-1])


def faults(golden, schema):
    """Faults of each kind, each at the first place it can be made."""
    out = []
    seen = set()
    for path, node, value in walk(golden, schema, schema):
        if not path:
            continue
        parent_path, _, name = path.rpartition(".")
        if isinstance(value, str) and "enum" not in node and "format" not in node and "type" not in seen:
            seen.add("type")
            out.append(("type", path, lambda p, k: p.__setitem__(k, 12)))
        if "enum" in node and "property" not in seen:
            seen.add("property")
            out.append(("property", path, lambda p, k: p.__setitem__(k, "NotOneOfThem")))
        if isinstance(value, str) and "maxLength" in node and "length" not in seen:
            seen.add("length")
            out.append(("property", path, lambda p, k, n=node["maxLength"]: p.__setitem__(k, "y" * (n + 1))))
        if node.get("format") == "date-time" and "format" not in seen:
            seen.add("format")
            out.append(("format", path, lambda p, k: p.__setitem__(k, "yesterday")))
    for name in schema.get("required", []):
        out.append(("occurrence", name, lambda p, k: p.__delitem__(k)))
        break
    if schema.get("additionalProperties") is False:
        out.append(("format", "colour", lambda p, k: p.__setitem__(k, "red")))
    return out


def main():
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(SOURCE.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8-sig"))
        validator = jsonschema.Draft6Validator(schema, format_checker=jsonschema.FormatChecker())
        golden = instance(schema, schema)
        assert not list(validator.iter_errors(golden)), path.name
        cases = []
        for kind, where, change in faults(golden, schema):
            broken = copy.deepcopy(golden)
            set_at(broken, where, change)
            errors = list(validator.iter_errors(broken))
            assert errors, f"{path.name}: the {kind} fault at {where} is not one"
            cases.append({"kind": kind, "path": where, "payload": broken})
        (target / path.name).write_text(json.dumps({"golden": golden, "faults": cases}, separators=(",", ":"), sort_keys=True) + "\n")
        written += 1
    print(f"{target}: {written} messages")


if __name__ == "__main__":
    main()
