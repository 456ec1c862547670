#!/usr/bin/env bash
# Installs what the end-to-end tests need from Debian's packages: Chromium (driven by
# Playwright through executable_path) and CJK fonts for the screenshots. Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-browser: run as root, or install chromium and fonts-noto-cjk yourself" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
