#!/usr/bin/env bash
# Validate docker-compose.yml with Debian's docker-compose (no engine needed): schema, keys,
# interpolation. The secrets it requires are given dummy values for the check only.
set -euo pipefail
cd "$(dirname "$0")/.."
CROSSFEED_SECRET_KEY=validation-only POSTGRES_PASSWORD=validation-only \
  docker-compose --project-directory . -f docker-compose.yml config --quiet
echo "check-compose: docker-compose.yml is valid"
