#!/usr/bin/env bash
# The Python package's tests (pytest, FastAPI's TestClient) with Debian's /usr/bin/python3, once on the
# system's PyJWT (Debian 12: 2.6) and once on Debian 13's (2.10, see fetch_pyjwt.sh). A `python3` earlier
# on PATH may be another interpreter that does not see Debian's packages, hence the full path.
# pytest's exit 5 ("no tests ran") fails this script like any other failure.
set -euo pipefail
cd "$(dirname "$0")"
python=/usr/bin/python3
if ! $python -c 'import pytest, fastapi, httpx, jwt, cryptography' 2>/dev/null; then
  echo "python/test.sh: needs Debian's python3-pytest python3-fastapi python3-httpx python3-jwt" \
    "python3-cryptography (apt-get install them)" >&2
  exit 1
fi
trixie="$(bash fetch_pyjwt.sh)"
for pythonpath in "" "$trixie"; do
  PYTHONPATH="$pythonpath" PYTHONDONTWRITEBYTECODE=1 $python -m pytest -p no:cacheprovider tests "$@"
done
