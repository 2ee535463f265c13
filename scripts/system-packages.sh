#!/bin/sh
# System packages wfhub uses, from Debian's archive. Installed when running as root with apt;
# otherwise listed so an operator can install them. bubblewrap sandboxes agent commands and
# terminals (util-linux gives prlimit and setsid). ripgrep makes workspace search fast (a
# Python engine gives the same results without it); git is required. openssh-server gives
# the tests a real sshd for SSH restarts (wfhub itself only needs its client side, asyncssh).
set -eu
PACKAGES="git ripgrep bubblewrap util-linux openssh-server"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
    }
else
    echo "wfhub would like these Debian packages:$missing (apt-get install$missing)" >&2
fi
