#!/usr/bin/env bash
# The linters and the type checker (quickstart.sh test runs this before the tests; any finding fails):
#   ruff check    every Python file (configured in pyproject.toml, [tool.ruff])
#   mypy          the brushwork package (pyproject.toml, [tool.mypy]); not the editor plug-ins
#                 (plugins/, brushwork.editors), whose Krita/GIMP modules exist only inside the editors
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
.venv/bin/ruff check --output-format concise . || status=1

# mypy finds modules by folder name and cannot follow setuptools' editable import hook, while
# renderers/ is installed as brushwork.renderers. So it checks a tree of links laid out as installed
# (build/mypy, the [tool.mypy] mypy_path), and the paths in its messages are mapped back to the sources.
tree=build/mypy
rm -rf "$tree"
mkdir -p "$tree/brushwork"
for entry in core/brushwork/*; do
    [ "${entry##*/}" = __pycache__ ] || ln -s "../../../$entry" "$tree/brushwork/"
done
ln -s ../../../renderers "$tree/brushwork/renderers"
.venv/bin/mypy | sed -e "s#$tree/brushwork/renderers/#renderers/#g" -e "s#$tree/brushwork/#core/brushwork/#g" || status=1
exit $status
