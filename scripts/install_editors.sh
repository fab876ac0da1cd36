#!/usr/bin/env bash
# Install the real editors that the end-to-end tests drive (tests/e2e), reusing whatever is already
# there. Needs root (apt-get, debootstrap, chroot, bind mounts); CI runs as root.
#
#   Krita 5.x under Xvfb:   the host's Debian packages (krita, python3-pyqt5, xvfb, xauth).
#   GIMP 3.0:               Debian 12 ships only GIMP 2.10 (no Python), so GIMP 3 lives in a Debian 13
#                           (trixie) root made with debootstrap at $BRUSHWORK_GIMP_ROOT
#                           (default /var/lib/brushwork/gimp-root) and is run with chroot.
#
# Recipes: shared/EDITORS.md. Safe to run again; each step is skipped when its result exists.
set -euo pipefail
gimp_root=${BRUSHWORK_GIMP_ROOT:-/var/lib/brushwork/gimp-root}
mirror=${BRUSHWORK_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
    echo "install_editors: needs root (apt-get, debootstrap, chroot); skipping editor installation" >&2
    exit 0
fi

apt_missing() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

# --- Krita (host) ---------------------------------------------------------------------------------
mapfile -t missing < <(apt_missing krita python3-pyqt5 xvfb xauth debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    echo "install_editors: installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# --- GIMP 3 (Debian 13 root) ----------------------------------------------------------------------
if [ -x "$gimp_root/usr/bin/gimp-console-3.0" ]; then
    echo "install_editors: GIMP 3 already in $gimp_root"
    exit 0
fi
# A half-made root (an interrupted debootstrap) is started again from scratch.
if [ -e "$gimp_root" ] && [ ! -x "$gimp_root/usr/bin/apt-get" ]; then
    echo "install_editors: removing the incomplete root $gimp_root"
    rm -rf --one-file-system "$gimp_root"
fi
mkdir -p "$(dirname "$gimp_root")"
if [ ! -x "$gimp_root/usr/bin/apt-get" ]; then
    echo "install_editors: debootstrap trixie into $gimp_root (about a minute)"
    debootstrap --variant=minbase trixie "$gimp_root" "$mirror" >/dev/null
fi
cp /etc/resolv.conf "$gimp_root/etc/"
mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" || true; done
}
trap unmount_all EXIT
for d in proc sys dev dev/pts; do
    mount --bind "/$d" "$gimp_root/$d"
    mounted+=("$gimp_root/$d")
done
echo "install_editors: installing GIMP 3 in $gimp_root"
chroot "$gimp_root" apt-get update -q
chroot "$gimp_root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gimp
unmount_all
mounted=()
echo "install_editors: GIMP 3 ready in $gimp_root"
