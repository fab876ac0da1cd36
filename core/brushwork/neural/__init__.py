"""The differentiable stand-in for `raster` used while optimising strokes (torch is imported by
the submodules only, so importing this package stays cheap)."""

PATHWAYS = ("dual", "shading-only", "rasterization-only")
