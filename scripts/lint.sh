#!/usr/bin/env bash
# lint — banned functions (as curl's checksrc): they are unbounded or
# silently accept garbage. Use snprintf, strtol with end checks, memcpy with
# a length, strtok_r if ever needed.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok|strncpy)[[:space:]]*\('
if grep -nE "$banned" src/*.c src/*/*.c src/*/*.h 2>/dev/null; then
  echo "lint: banned function above (see scripts/lint.sh)" >&2
  exit 1
fi
