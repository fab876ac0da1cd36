"""The dual-pathway neural stroke renderer (after Stylized Neural Painting, Zou et al. 2021).

Per brush kind: a rasterization generator (shape parameters only -> mask) and a shading
generator (all parameters -> colour), fused into alpha = opacity x mask and foreground =
shading x alpha (premultiplied, like `raster.render_patch`). Both generators are coordinate
networks: `geometry` turns the shape parameters into per-pixel coordinates relative to the
stroke, and small per-pixel MLPs decode them. The shading generator predicts where along the
stroke's c0 -> c1 gradient a pixel lies and how much dark and light bristle texture covers it,
and mixes the stroke's own colours with that.
"""

from __future__ import annotations

import torch
from torch import nn

from brushwork import brushes
from brushwork.errors import BrushworkError
from brushwork.neural import PATHWAYS, layout


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

    def features(self, canvas: torch.Tensor) -> torch.Tensor:
        return self.brush.neural_features(canvas, self.size)

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v: (N, d) normalised parameters (`layout`) -> premultiplied foreground (N, 3, S, S)
        and alpha (N, 1, S, S), in 0..1."""
        if v.ndim != 2 or v.shape[1] != self.parameter_count:
            raise BrushworkError(
                f"{self.kind} renderer expects parameters of shape (N, {self.parameter_count}), "
                f"got {tuple(v.shape)}"
            )
        canvas = layout.to_canvas(self.kind, v, self.size)
        features = self.features(canvas)
        view = lambda t: t[:, None, None, :]  # noqa: E731 - per-stroke values over the pixels
        c0 = view(v[:, self._colour0:self._colour0 + 3])
        c1 = view(v[:, self._colour1:self._colour1 + 3])
        opacity = view(v[:, self._opacity:self._opacity + 1]) if self._opacity is not None else 1.0
        if self.pathways == "shading-only":
            stroke = torch.cat([c0, c1, opacity * torch.ones_like(c0[..., :1])], dim=-1)
            out = self.joint(torch.cat([features, stroke.expand(*features.shape[:3], 7)], dim=-1))
            shading, mask = torch.sigmoid(out[..., :3]), torch.sigmoid(out[..., 3:])
        else:
            mask = torch.sigmoid(self.rasterization(features))
            if self.pathways == "dual":
                g, dark, light = torch.sigmoid(self.shading(features)).unbind(-1)
                dark, light = 0.5 * dark[..., None], 0.5 * light[..., None]
                shading = (c0 + (c1 - c0) * g[..., None]) * (1 - dark - light) + light
            else:  # rasterization-only: flat colour
                shading = (c0 + c1) / 2 * torch.ones_like(mask)
        alpha = opacity * mask
        foreground = shading * alpha
        return foreground.permute(0, 3, 1, 2), alpha.permute(0, 3, 1, 2)
