#!/usr/bin/env bash
# Gather the photos the shipped networks train on into folder $1: the photos of ../shared/images/content
# except the three the stylize benchmark scores (tubingen, chicago, astronaut), plus photos the
# scikit-image wheel ships (CC0; scikit-image is installed into .venv when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BRUSHWORK_SHARED:-../shared}
mkdir -p "$1"
.venv/bin/python -c "import skimage" 2>/dev/null || .venv/bin/pip install -q scikit-image
.venv/bin/python - "$shared" "$1" <<'PY'
import shutil, sys
from pathlib import Path
import skimage
shared, out = Path(sys.argv[1]), Path(sys.argv[2])
for photo in ("chelsea.png", "coffee.png", "rocket.jpg", "sailboat.jpg"):
    shutil.copy(shared / "images/content" / photo, out / photo)
ships = Path(skimage.__file__).parent / "data"
for photo in ("brick.png", "camera.png", "cell.png", "clock_motion.png", "coins.png", "grass.png", "gravel.png",
              "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg"):
    shutil.copy(ships / photo, out / f"skimage_{photo}")
PY
