#!/usr/bin/env bash
# Start the local PostgreSQL server (Debian's cluster) and create the test database.
# Prints the SQLAlchemy URL of the test database on stdout, and nothing else there:
# the server's own messages ("Removed stale pid file.") go to stderr.
set -euo pipefail

DB=${INTAKE_TEST_PG_DB:-intake_test}
if [ "$(id -u)" -ne 0 ]; then
  echo "postgresql+psycopg:///${DB}?host=/var/run/postgresql"
  exit 0
fi
version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$version" ]; then
  echo "start-postgres: PostgreSQL is not installed (scripts/setup-system.sh installs it)" >&2
  exit 1
fi
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^${version} main$"; then
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 30); do
  runuser -u postgres -- pg_isready -q -h /var/run/postgresql && break
  sleep 1
done
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='root'" | grep -q 1 \
  || runuser -u postgres -- createuser -s root >&2
psql -qtAc "SELECT 1 FROM pg_database WHERE datname='${DB}'" postgres | grep -q 1 \
  || createdb "$DB" >&2
echo "postgresql+psycopg:///${DB}?host=/var/run/postgresql"
