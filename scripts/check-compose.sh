#!/usr/bin/env bash
# Validate docker-compose.yml with Debian's docker-compose (no engine needed): schema, keys,
# interpolation. It runs in a scratch folder with .env.example as the .env an operator would
# have (compose reads env_file and interpolation values from it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$root/docker-compose.yml" "$root/Dockerfile" "$scratch/"
cp "$root/.env.example" "$scratch/.env"
docker-compose --project-directory "$scratch" -f "$scratch/docker-compose.yml" config --quiet
echo "check-compose: docker-compose.yml is valid"
