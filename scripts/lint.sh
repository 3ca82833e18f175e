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

# Layers point down (docs/architecture.md): the API's handlers see the
# agent through agent/agent.h, never its insides, and the agent knows
# nothing of HTTP (src/cmd/agent.c wires the server, the routes and the agent).
if grep -nE '#include "agent/agent_impl\.h"' src/api/*.c src/api/*.h src/cmd/*.c; then
  echo "lint: agent_impl.h above is the agent's own: use agent/agent.h" >&2
  exit 1
fi
if grep -nE '#include "api/' src/agent/*.c src/agent/*.h; then
  echo "lint: the agent includes an api/ header above: give it a hook from src/cmd/agent.c" >&2
  exit 1
fi

# Skips must reach ctest (README.md, "Skips expected on this machine"):
# cmocka's skip() is counted as a pass, so a unit test that cannot run exits
# 77 before it starts; an integration test file runs through harness.main(),
# which exits 77 when a test skipped.
if grep -nE '\bskip[[:space:]]*\(\)' tests/unit/*.c; then
  echo "lint: cmocka's skip() above is invisible to ctest: exit 77 from main instead" >&2
  exit 1
fi
for f in tests/integration/test_*.py; do
  if ! grep -qE '^    (harness\.)?main\(\)$' "$f"; then
    echo "lint: $f does not end in harness.main(), which reports skips to ctest" >&2
    exit 1
  fi
done

# Docs live in the repository: nothing may point at a ../shared/ directory
# that a clone does not have.
if grep -rn --exclude-dir='build*' --exclude-dir=.git --exclude-dir=corpus --exclude-dir=work \
     --exclude-dir=node_modules --exclude=lint.sh \
     -e '\.\./shared' . ; then
  echo "lint: a link to ../shared/ above: move what it needs into docs/" >&2
  exit 1
fi
