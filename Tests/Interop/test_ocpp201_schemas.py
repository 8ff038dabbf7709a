"""The OCPP 2.0.1 schemas in the binary (Sources/OCPP201/Schemas.swift) are the Python `ocpp` package's official ones,
and the golden messages the Swift validator is tested with are the reference validator's: regenerated from the pinned
package, both come out the same."""
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


def test_the_golden_messages_and_their_faults_are_the_references(tmp_path):
    """Tests/OCPP201Tests/Fixtures, regenerated (with the reference validator's checks), come out the same."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "ocpp201-fixtures.py"), str(tmp_path)], check=True, timeout=120,
                   capture_output=True)
    shipped = ROOT / "Tests" / "OCPP201Tests" / "Fixtures"
    names = sorted(p.name for p in shipped.glob("*.json"))
    assert names == sorted(p.name for p in tmp_path.glob("*.json")) and len(names) == 128
    for name in names:
        assert (tmp_path / name).read_text() == (shipped / name).read_text(), name
