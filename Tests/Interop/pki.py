"""Test certificates made with openssl: two authorities (`ca`, `other-ca`) and certificates they issue, as
`<name>.pem` and `<name>.key` in one directory. Server certificates name 127.0.0.1 and localhost."""
import subprocess


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def authorities(d):
    """Creates `ca` and `other-ca` in d."""
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)


def issue(d, name, subject, ca="ca", server=False):
    """A certificate for subject (e.g. "/CN=CP1"), signed by ca."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    extension = ["-extfile", "san.cnf"] if server else []
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem", *extension, cwd=d)
