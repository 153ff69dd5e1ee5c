# Sourced by scripts/test and bench/run: Debian's Chromium for the browser tests and browser
# scenarios (Playwright cannot download its own browser here), installed when missing.
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "==> Installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi
