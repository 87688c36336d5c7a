#!/usr/bin/env bash
# Run the simulator from this clone: `deno task sim` with the flags given (scripts/sim.sh --help
# lists them), after installing Deno 2.9.6 from npm if it is missing. Records on stdout, logs on
# stderr. Runs in the clone's root, so relative paths in flags (--config, --summary-json) are too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_install.sh
source scripts/_install.sh

ensure_deno
exec deno task --quiet sim "$@"
