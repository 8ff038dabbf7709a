"""The OCPP 2.0.1 schemas in the binary (Sources/OCPP201/Schemas.swift) are the Python `ocpp` package's official ones:
regenerated from the pinned package, the file comes out the same."""
import subprocess
import sys

from conftest import ROOT


def test_the_shipped_schemas_are_the_official_ones(tmp_path):
    fresh = tmp_path / "Schemas.swift"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "ocpp201-schemas.py"), str(fresh)], check=True, timeout=60,
                   capture_output=True)
    shipped = (ROOT / "Sources" / "OCPP201" / "Schemas.swift").read_text()
    assert fresh.read_text() == shipped, "run scripts/ocpp201-schemas.py after changing the ocpp package's version"
    assert shipped.count('": ##"{') == 128  # 64 actions, a request and a response each
    assert '"##' not in shipped.replace('}"##,', "")  # no schema text ends its raw string early
