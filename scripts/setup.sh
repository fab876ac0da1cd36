#!/usr/bin/env bash
# Set up brushwork on a Debian machine that has python3 (>= 3.11): system packages, a virtual
# environment in .venv, PyTorch, and brushwork itself (editable). Safe to run again: it installs
# only what is missing.
#
#   bash scripts/setup.sh          # to use brushwork
#   bash scripts/setup.sh test     # also what the test suite needs (Chromium, pytest, Ray, ...)
#
# PyTorch: BRUSHWORK_TORCH holds the pip arguments that install it (default "torch==2.13.0", the
# CPU build on our machines). A torch already present in .venv is kept: install the build for your
# GPU/OS into .venv first if you want another one (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-run}
python=${PYTHON:-python3}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "setup: brushwork needs Python >= 3.11; $python is $("$python" --version 2>&1)" >&2
    exit 1
}
packages=(libcairo2)                      # cairocffi and cairosvg load the system cairo
"$python" -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
[ "$purpose" = test ] && packages+=(chromium fonts-dejavu-core)   # SVG parity tests in a browser
[ "$purpose" = test ] && packages+=(openbox xdotool x11-utils)    # GIMP screenshots on Xvfb (tests/e2e)
apt_install "${packages[@]}"
# The plug-ins' end-to-end tests drive the real editors: Krita (host) and GIMP 3 (a Debian 13 root).
[ "$purpose" = test ] && bash scripts/install_editors.sh

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
.venv/bin/python -c 'import torch' 2>/dev/null || {
    echo "setup: installing PyTorch (${BRUSHWORK_TORCH:-torch==2.13.0})"
    # shellcheck disable=SC2086 # the variable holds pip arguments
    "${pip[@]}" ${BRUSHWORK_TORCH:-torch==2.13.0}
}
# test: also Ray (the optional extra brushwork[ray]), which the batch tests run a small cluster of
if [ "$purpose" = test ]; then extras=".[test,ray]"; else extras="."; fi
"${pip[@]}" -e "$extras"
echo "setup: ready ($(.venv/bin/brushwork --version))"
