# Shared by scripts/run.sh and scripts/test.sh: installs what the gateway and its tests need.
# Debian packages through apt-get (only the missing ones), Python packages into ./.venv.

require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: the Swift 6 toolchain is not installed (https://www.swift.org/install/linux/)." >&2
        exit 1
    fi
}

# apt_install PACKAGE... installs the Debian packages that are not installed yet.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# python_venv REQUIREMENTS creates ./.venv (once) and installs the pinned requirements into it.
python_venv() {
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3 python3-venv
    fi
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    local stamp=".venv/.installed-$(sha1sum "$1" | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        .venv/bin/python -m pip install -q --disable-pip-version-check -r "$1"
        touch "$stamp"
    fi
}
