#!/usr/bin/env bash
# Install the system packages the test suite needs (tests/system-packages.txt) where this
# machine allows it (root with apt-get); elsewhere stop at once with the command to run.
set -euo pipefail
list="$(dirname "$0")/system-packages.txt"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
missing=()
while read -r command package _; do
  case "$command" in ''|'#'*) continue ;; esac
  command -v "$command" >/dev/null 2>&1 || missing+=("$package")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
install="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing what the tests need: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $install -qq
elif command -v apt-get >/dev/null; then
  echo "the tests need ${missing[*]}; run: sudo apt-get update && sudo $install" >&2
  exit 1
else
  echo "the tests need these programs (Debian package names): ${missing[*]}; install them" >&2
  exit 1
fi
