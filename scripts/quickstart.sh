#!/usr/bin/env bash
# The README's two commands.
#   bash scripts/quickstart.sh        set up, then paint the bundled default into out/
#   bash scripts/quickstart.sh test   set up, lint and type-check (scripts/lint.sh), then run the whole
#                                     test suite (slow tests included)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-demo}" in
    demo)
        bash scripts/setup.sh
        .venv/bin/brushwork demo -o out
        ;;
    test)
        bash scripts/setup.sh test
        shift
        bash scripts/lint.sh
        .venv/bin/python -m pytest "$@"
        ;;
    *)
        echo "usage: bash scripts/quickstart.sh [demo|test [pytest args]]" >&2
        exit 2
        ;;
esac
