#!/usr/bin/env bash
# Reproduce the shipped neural renderers (renderers/<kind>/) and the pathway ablation.
# Resumable: stop it at any time and run it again; each kind continues from checkpoints/.
set -euo pipefail
cd "$(dirname "$0")/.."
for kind in tape markerpen watercolor oilbrush; do
    .venv/bin/brushwork train-renderer --kind "$kind" --output "renderers/$kind"
done
# SNP's ablation on the oil brush: each pathway alone (figures printed, not shipped).
for pathways in shading-only rasterization-only; do
    .venv/bin/brushwork train-renderer --kind oilbrush --pathways "$pathways" --output "checkpoints/ablation-$pathways"
done
