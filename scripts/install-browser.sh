#!/usr/bin/env bash
# Installs what the end-to-end tests need from Debian's packages: Chromium (driven by
# Playwright through executable_path=/usr/bin/chromium, never Playwright's own browser
# downloads), chromium-driver, and CJK fonts so the Chinese screenshots show real glyphs.
# Idempotent: returns at once when everything is already there.
set -euo pipefail
PACKAGES=(chromium chromium-driver fonts-noto-cjk)
missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-browser: missing ${missing[*]}: run as root, or apt-get install them yourself" >&2
  exit 1
fi
echo "install-browser: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
/usr/bin/chromium --version
