#!/usr/bin/env bash
# Install what the data-plane tests need on a Debian host: iptables (nft backend) and iproute2.
# Idempotent: apt runs only when a binary is missing. Needs root; without it, it only reports.
set -euo pipefail

missing=()
command -v iptables-restore >/dev/null 2>&1 || missing+=(iptables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)

if [ ${#missing[@]} -eq 0 ]; then
    echo "data-plane test deps present: $(iptables-restore --version 2>&1 | head -1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${missing[*]}; run as root to install (the netns tests will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
