#!/usr/bin/env bash
# Make the browser test (tests/test_browser.py) runnable: a Chromium executable for Playwright.
# Idempotent: does nothing when one is already there. Playwright itself is a pinned test
# dependency (pyproject.toml [test]), installed by `make setup`; its own browser download
# (`playwright install`) is never used, the Debian `chromium` package is.
# Without root/sudo or apt-get it only says so: the browser test then skips with the reason.
set -uo pipefail
start=$(date +%s)
done_msg() { echo "install-browser: $1 ($(( $(date +%s) - start )) s)"; }

if [ -n "${UAELAB_CHROMIUM:-}" ] && [ -x "${UAELAB_CHROMIUM}" ]; then
    done_msg "using UAELAB_CHROMIUM=${UAELAB_CHROMIUM}"; exit 0
fi
for name in chromium chromium-browser google-chrome; do
    if path=$(command -v "$name"); then done_msg "already installed: $path"; exit 0; fi
done
if ! command -v apt-get >/dev/null; then
    done_msg "no apt-get here; install Chromium yourself or the browser test is skipped"; exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"
else done_msg "not root and no passwordless sudo; the browser test will be skipped"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# a fresh container may have empty package lists
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -qq || true
fi
if $SUDO apt-get install -y -qq chromium >/dev/null; then
    done_msg "installed $(chromium --version 2>/dev/null | head -1)"
else
    done_msg "apt-get install chromium failed; the browser test will be skipped"
fi
exit 0
