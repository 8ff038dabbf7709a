"""The deployment files: the Dockerfile lints clean, every Kubernetes manifest validates against the Kubernetes
schemas, and the files agree with each other and with the gateway's settings (docs/kubernetes.md)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MANIFESTS = sorted(p for p in (ROOT / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_dockerfile_lints_clean():
    result = subprocess.run([str(BIN / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_validates_against_the_kubernetes_schemas(manifest):
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", str(manifest)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def load(name):
    return yaml.safe_load((ROOT / "k8s" / name).read_text())


def test_kustomization_lists_every_manifest_but_the_examples_that_need_editing():
    kustomization = load("kustomization.yaml")
    listed = set(kustomization["resources"])
    assert all((ROOT / "k8s" / name).exists() for name in listed)
    assert listed == {p.name for p in MANIFESTS} - {"ingress.example.yaml"}


def test_the_deployment_is_safe_and_waits_for_a_clean_shutdown():
    deployment = load("deployment.yaml")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    config = load("configmap.yaml")["data"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    assert pod["terminationGracePeriodSeconds"] > float(config["SHUTDOWN_TIMEOUT"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {config["DATA_DIR"]}
    assert {p["containerPort"] for p in container["ports"]} == {int(config["LISTEN_PORT"]), int(config["ADMIN_PORT"])}


def test_the_config_map_holds_only_known_settings_and_no_secrets():
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "docs" / "configuration.md").read_text(), re.M))
    config = load("configmap.yaml")["data"]
    secret = load("secret.example.yaml")["stringData"]
    assert set(config) <= documented and set(secret) <= documented
    assert not {"MQTT_PASSWORD", "AUTHORIZED_TAG_ID_LIST"} & set(config)


def test_the_compose_file_matches_the_image():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    gateway = compose["services"]["gateway"]
    assert gateway["environment"]["MQTT_HOSTNAME"] == "mosquitto"
    assert "3000:3000" in gateway["ports"] and "8080:8080" in gateway["ports"]
    assert any(volume.endswith(":/data") for volume in gateway["volumes"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "EXPOSE 3000 8080" in dockerfile and "USER 10001:10001" in dockerfile and "HEALTHCHECK" in dockerfile
