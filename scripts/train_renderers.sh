#!/usr/bin/env bash
# Reproduce the shipped neural renderers (renderers/<kind>/) and the pathway ablation.
# Resumable: stop it at any time and run it again; each run continues from checkpoints/.
# Steps per kind were chosen from the held-out curves (see each card.json "history").
set -euo pipefail
cd "$(dirname "$0")/.."
train() { .venv/bin/brushwork train-renderer "$@"; }
train --kind tape --steps 1500 --output renderers/tape
train --kind markerpen --steps 1500 --output renderers/markerpen
train --kind watercolor --steps 800 --output renderers/watercolor
train --kind oilbrush --steps 800 --output renderers/oilbrush
train --kind pencil --steps 1000 --output renderers/pencil
# SNP's ablation on the oil brush, every variant trained the same short way: the fused dual
# pathway against each pathway alone (figures for the card, not shipped).
for pathways in dual shading-only rasterization-only; do
    train --kind oilbrush --pathways "$pathways" --steps 300 --checkpoint "checkpoints/ablation-$pathways.pt" \
        --output "checkpoints/ablation-$pathways"
done
