#!/usr/bin/env bash
# Reproduce the shipped trained styles (core/brushwork/data/styles/<name>.pt and their cards):
#   starry_night, wave   Johnson networks for ../shared/images/style/<name>.jpg
#   six_paintings        the collection GAN on the six paintings of ../shared/images/style (six painters,
#                        not one: a tiny stand-in for a painter's collection)
# Training photos: the photos of ../shared/images/content except the three the stylize benchmark scores
# (tubingen, chicago, astronaut), plus photos the scikit-image wheel ships; random crops, scales and flips.
# Sized for 2 CPU cores: one thread a model (0.25 CPU s a Johnson step): starry_night 67 min on an idle core,
# wave 85 min on a loaded one, 24 min the collection; on a GPU raise --steps, --size and --batch. Resumable:
# run it again after a stop (each model continues from its checkpoint; --max-minutes bounds one sitting).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BRUSHWORK_SHARED:-../shared}
data=checkpoints/style-data
out=core/brushwork/data/styles
mkdir -p "$data/content" "$out" checkpoints/styles
bash scripts/training_photos.sh "$data/content"
export BRUSHWORK_WEIGHTS=${BRUSHWORK_WEIGHTS:-$shared/weights}
device=${DEVICE:-cpu}
# name, style weight, steps, steps between samples (the defaults of train-style otherwise: lr 0.002
# cosine-decayed, the last conv at 0.02 of it, the network added to the photo with its mean colour learned).
while read -r style weight steps every; do
    [ -f "$out/$style.pt" ] && continue
    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/brushwork train-style "$shared/images/style/$style.jpg" \
        --content "$data/content" --steps "$steps" --size 128 --batch 2 --style-weight "$weight" \
        --sample-every "$every" --max-minutes 120 --device "$device" --checkpoint "checkpoints/styles/$style.ckpt" \
        -o "$out/$style.pt" </dev/null
done <<'STYLES'
starry_night 3 16000 500
wave 2 16000 500
STYLES
if [ ! -f "$out/six_paintings.pt" ]; then
    nice -n 10 .venv/bin/brushwork train-style --collection "$shared/images/style" --content "$data/content" \
        --steps "${COLLECTION_STEPS:-800}" --size 32 --batch 2 --sample-every 100 --device "$device" \
        --checkpoint checkpoints/styles/six_paintings.ckpt -o "$out/six_paintings.pt"
fi
