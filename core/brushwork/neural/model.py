"""The dual-pathway neural stroke renderer (after Stylized Neural Painting, Zou et al. 2021).

Per brush kind: a rasterization generator (shape parameters only -> mask) and a shading
generator (all parameters -> colour), fused into alpha = opacity x mask and foreground =
shading x alpha (premultiplied, like `raster.render_patch`). Both generators are coordinate
networks: `geometry` turns the shape parameters into per-pixel coordinates relative to the
stroke, and small per-pixel MLPs decode them. The shading generator predicts where along the
stroke's c0 -> c1 gradient a pixel lies and how much dark and light bristle texture covers it,
and mixes the stroke's own colours with that. The networks run only on the pixels a stroke can
reach (`Brush.support`), a fifth of a block or less, which makes painting several times cheaper.
"""

from __future__ import annotations

import torch
from torch import nn

from brushwork import brushes
from brushwork.errors import BrushworkError
from brushwork.neural import PATHWAYS, layout
from brushwork.neural.geometry import pixel_grid

# The renderer runs its networks only on the pixels within this many pixels of a stroke and leaves
# the rest empty: 15-25 % of a block for the strokes it is trained on, where the networks' alpha
# beyond the margin is 0.001 on average (the exact marks are empty there).
SUPPORT_MARGIN = 2.0


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.SiLU(),
        nn.Linear(hidden, hidden), nn.SiLU(),
        nn.Linear(hidden, outputs),
    )


class NeuralRenderer(nn.Module):
    def __init__(self, kind: str, size: int = 64, hidden: int = 32, pathways: str = "dual") -> None:
        super().__init__()
        if kind not in brushes.names():
            raise BrushworkError(f"unknown brush kind {kind!r}; expected one of {', '.join(brushes.names())}")
        if pathways not in PATHWAYS:
            raise BrushworkError(f"unknown pathways {pathways!r}; expected one of {', '.join(PATHWAYS)}")
        self.kind, self.size, self.hidden, self.pathways = kind, size, hidden, pathways
        self.brush = brushes.get(kind)
        names = self.brush.kind.names
        self.parameter_count = len(names)
        first, last = ("r0", "r1") if "r0" in names else ("r", "r")
        self._colour0 = names.index(first)
        self._colour1 = names.index(last)
        self._opacity = names.index("opacity") if "opacity" in names else None
        features = self.brush.neural_feature_count
        if pathways == "shading-only":
            # One generator that sees everything (SNP's single-pathway ablation).
            self.joint = _mlp(features + 7, hidden, 4)
        else:
            self.rasterization = _mlp(features, hidden, 1)
            if pathways == "dual":
                self.shading = _mlp(features, hidden, 3)

    def config(self) -> dict:
        return {"kind": self.kind, "size": self.size, "hidden": self.hidden, "pathways": self.pathways}

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v: (N, d) normalised parameters (`layout`) -> premultiplied foreground (N, 3, S, S)
        and alpha (N, 1, S, S), in 0..1."""
        if v.ndim != 2 or v.shape[1] != self.parameter_count:
            raise BrushworkError(
                f"{self.kind} renderer expects parameters of shape (N, {self.parameter_count}), "
                f"got {tuple(v.shape)}"
            )
        canvas = layout.to_canvas(self.kind, v, self.size)
        count, size = v.shape[0], self.size
        x, y = pixel_grid(size, v.device)
        stroke, row, column = self.brush.support(canvas, x, y, SUPPORT_MARGIN).nonzero(as_tuple=True)
        features = self.brush.neural_features(canvas[stroke], x[0, 0, column], y[0, row, 0])
        mine = v[stroke]  # each supported pixel's stroke parameters
        c0 = mine[:, self._colour0:self._colour0 + 3]
        c1 = mine[:, self._colour1:self._colour1 + 3]
        opacity = mine[:, self._opacity:self._opacity + 1] if self._opacity is not None else 1.0
        if self.pathways == "shading-only":
            out = self.joint(torch.cat([features, c0, c1, opacity * torch.ones_like(c0[:, :1])], dim=-1))
            shading, mask = torch.sigmoid(out[:, :3]), torch.sigmoid(out[:, 3:])
        else:
            mask = torch.sigmoid(self.rasterization(features))
            if self.pathways == "dual":
                g, dark, light = torch.sigmoid(self.shading(features)).unbind(-1)
                dark, light = 0.5 * dark[:, None], 0.5 * light[:, None]
                shading = (c0 + (c1 - c0) * g[:, None]) * (1 - dark - light) + light
            else:  # rasterization-only: flat colour
                shading = (c0 + c1) / 2 * torch.ones_like(mask)
        alpha = opacity * mask
        pixels = (stroke * size + row) * size + column
        drawn = alpha.new_zeros(count * size * size, 4).index_copy(0, pixels, torch.cat([shading * alpha, alpha], 1))
        drawn = drawn.reshape(count, size, size, 4).permute(0, 3, 1, 2)
        return drawn[:, :3], drawn[:, 3:]
