#!/usr/bin/env bash
# Reproduce the shipped AdaIN decoder (core/brushwork/data/adain_decoder4.pth and its card).
# Training photos: scripts/training_photos.sh; styles: ../shared/images/style with the_scream and udnie held
# out (reported separately in the card). Resumable: run it again after a stop.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BRUSHWORK_SHARED:-../shared}
data=checkpoints/adain-data
mkdir -p "$data/content"
bash scripts/training_photos.sh "$data/content"
.venv/bin/brushwork train-decoder --content "$data/content" --styles "$shared/images/style" \
    --hold-out the_scream --hold-out udnie --steps "${STEPS:-500}" --device "${DEVICE:-auto}" \
    --output core/brushwork/data/adain_decoder4.pth "$@"
