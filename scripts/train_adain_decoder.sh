#!/usr/bin/env bash
# Reproduce the shipped AdaIN decoder (core/brushwork/data/adain_decoder4.pth and its card).
# Training images: the photos of ../shared/images/content except the three the stylize benchmark scores
# (tubingen, chicago, astronaut), plus photos the scikit-image wheel ships; styles: ../shared/images/style
# with the_scream and udnie held out (reported separately in the card). Resumable: run it again after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BRUSHWORK_SHARED:-../shared}
data=checkpoints/adain-data
mkdir -p "$data/content"
.venv/bin/python -c "import skimage" 2>/dev/null || .venv/bin/pip install -q scikit-image
.venv/bin/python - "$shared" "$data/content" <<'PY'
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
.venv/bin/brushwork train-decoder --content "$data/content" --styles "$shared/images/style" \
    --hold-out the_scream --hold-out udnie --steps "${STEPS:-500}" --device "${DEVICE:-auto}" \
    --output core/brushwork/data/adain_decoder4.pth "$@"
