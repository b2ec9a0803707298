#!/usr/bin/env bash
# Installs what demine needs on a Debian machine, idempotently:
#   system packages (PostgreSQL + PostGIS; with --test also Chromium), a Python venv in .venv.
# As root it installs Debian packages itself; otherwise it says which to install.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# PostgreSQL: use the server major that is installed, else Debian's default
pg_major() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1; }
if [ -z "$(pg_major)" ] && [ -z "${DEMINE_DATABASE_URL:-}" ]; then
  missing+=(postgresql postgresql-contrib)
fi
for p in python3-venv python3-dev; do have_pkg "$p" || missing+=("$p"); done
# report PDFs: WeasyPrint lays out with Pango/HarfBuzz; DejaVu carries Cyrillic (uk reports)
for p in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
  have_pkg "$p" || missing+=("$p")
done
if [ "$want_test" = 1 ]; then
  have_pkg chromium || missing+=(chromium)
  have_pkg fonts-dejavu-core || missing+=(fonts-dejavu-core)
  # GDAL's own clients (ogrinfo, ogr2ogr) read what we export and serve, as QGIS would
  have_pkg gdal-bin || missing+=(gdal-bin)
  # the report tests read rendered PDFs back (pdftotext, pdftoppm)
  have_pkg poppler-utils || missing+=(poppler-utils)
  # the API benchmarks load the server with 8 concurrent clients (benchmarks/api_tipg.py)
  have_pkg wrk || missing+=(wrk)
  # ODK Validate (JavaRosa, what ODK Collect runs) checks the shipped XLSForms
  command -v java >/dev/null || missing+=(default-jre-headless)
fi

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: $*"
    say "install them as root: sudo apt-get install -y $*"
    exit 1
  fi
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

if [ "${#missing[@]}" -gt 0 ]; then
  # python3-venv and -dev only matter where python3 is Debian's own
  if [ "$(command -v python3)" != /usr/bin/python3 ]; then
    kept=(); for p in "${missing[@]}"; do case "$p" in python3-*) ;; *) kept+=("$p");; esac; done
    missing=("${kept[@]+"${kept[@]}"}")
  fi
  [ "${#missing[@]}" -gt 0 ] && apt_install "${missing[@]}"
fi

major="$(pg_major)"
if [ -n "$major" ] && ! have_pkg "postgresql-$major-postgis-3"; then
  apt_install "postgresql-$major-postgis-3"
fi

# a Debian-installed server that is not running yet (fresh install, or stopped)
if [ -n "$major" ] && command -v pg_lsclusters >/dev/null && [ "$(id -u)" = 0 ]; then
  if pg_lsclusters --no-header 2>/dev/null | awk '{print $4}' | grep -q down; then
    say "starting PostgreSQL $major"
    pg_ctlcluster --skip-systemctl-redirect "$major" main start || true
  fi
fi

# Python environment
py="${PYTHON:-python3}"
"$py" -c 'import sys; assert sys.version_info >= (3, 11), "demine needs Python 3.11 or newer"'
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.demine-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
say "ready"
