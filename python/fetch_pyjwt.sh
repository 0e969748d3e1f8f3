#!/usr/bin/env bash
# Puts Debian 13's PyJWT (python3-jwt from the trixie suite, pure Python) in .cache/pyjwt-trixie/, next to
# Debian 12's own 2.6, without touching the system's packages: a private apt list for trixie, `apt-get
# download`, `dpkg -x`. Prints the folder to put on PYTHONPATH. Does nothing when it is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/pyjwt-trixie"
site="$cache/usr/lib/python3/dist-packages"
if [ -f "$site/jwt/__init__.py" ]; then echo "$site"; exit 0; fi

work="$cache.tmp"
rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
# The same archive as the system's sources, trixie instead of bookworm, checked with Debian's keyring.
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  >"$work/sources.list"
apt=(apt-get -qq -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
"${apt[@]}" update >&2
(cd "$work" && "${apt[@]}" download python3-jwt >&2)
rm -rf "$cache" && mkdir -p "$cache"
dpkg -x "$work"/python3-jwt_*.deb "$cache"
rm -rf "$work"
PYTHONPATH="$site" /usr/bin/python3 -c 'import jwt; print(f"fetch_pyjwt: PyJWT {jwt.__version__} in {jwt.__file__}")' >&2
echo "$site"
