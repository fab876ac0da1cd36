#!/usr/bin/env python3
"""Build the Krita release zip: what Krita's Tools > Scripts > "Import Python Plugin from File..."
takes. It holds the plug-in (brushwork_krita.desktop and the brushwork_krita/ package with the bridge
client, and options.json: the engine's options document from `brushwork.settings.describe()`, which
the docker is built from until the engine has answered) and, in brushwork_krita/engine/, the brushwork
wheel that the docker's "Set up engine" button installs into the engine's own environment.

    python scripts/build_krita_plugin.py [-o dist] [--wheel path/to/brushwork-*.whl]

Run it with the Python of a brushwork checkout (it builds the wheel with pip unless --wheel names one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from brushwork import settings
from brushwork.plugin_install import OPTIONS_SNAPSHOT

ROOT = Path(__file__).resolve().parents[1]
NAME = "brushwork_krita"


def build_wheel(out: Path) -> Path:
    # no build isolation: the checkout's environment has setuptools, and nothing needs downloading
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(ROOT)], check=True)
    return max(out.glob("brushwork-*.whl"), key=lambda p: p.stat().st_mtime)


def _directory(archive: zipfile.ZipFile, name: str) -> None:
    # Krita's importer finds the plug-in package by its directory entry ("brushwork_krita/"), which
    # zipfile does not write for files on its own.
    archive.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")


def build_zip(wheel: Path, out_dir: Path) -> Path:
    version = wheel.name.split("-")[1]
    target = out_dir / f"brushwork-krita-{version}.zip"
    out_dir.mkdir(parents=True, exist_ok=True)
    source = ROOT / "plugins" / "krita"
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(source / f"{NAME}.desktop", f"{NAME}.desktop")
        _directory(archive, NAME)
        for path in sorted((source / NAME).glob("*.py")):
            archive.write(path, f"{NAME}/{path.name}")
        archive.write(ROOT / "core" / "brushwork" / "client.py", f"{NAME}/bridge_client.py")
        archive.writestr(f"{NAME}/{OPTIONS_SNAPSHOT}", json.dumps(settings.describe(), indent=1) + "\n")
        _directory(archive, f"{NAME}/engine")
        archive.write(wheel, f"{NAME}/engine/{wheel.name}")
    partial.replace(target)  # a half-written zip never carries the release's name
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--wheel", type=Path, help="use this brushwork wheel instead of building one")
    args = parser.parse_args(argv)
    if args.wheel is not None and not args.wheel.is_file():
        parser.error(f"--wheel {args.wheel}: no such file")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or build_wheel(Path(tmp))
        target = build_zip(wheel, args.output_dir)
    print(f"built {target}: in Krita, Tools > Scripts > Import Python Plugin from File..., restart Krita, then "
          "Settings > Dockers > brushwork > Set up engine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
