"""The Swift tests' golden message fixtures are valid against the official OCPP 1.6 JSON schemas (as shipped
in the Python ocpp package). MessageFixtureTests shows the Swift types read and write exactly these."""
import json
from pathlib import Path

import jsonschema
import ocpp.v16
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "OCPPTests" / "Fixtures" / "messages"
SCHEMAS = Path(ocpp.v16.__file__).parent / "schemas"


def fixtures():
    return sorted(FIXTURES.glob("*.json"))


def test_every_implemented_action_has_both_fixtures():
    assert len(fixtures()) == 62


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.stem)
def test_fixture_matches_the_official_schema(path):
    action, kind = path.stem.split(".")
    schema = json.loads((SCHEMAS / f"{action}{'Response' if kind == 'response' else ''}.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema, format_checker=jsonschema.FormatChecker())
