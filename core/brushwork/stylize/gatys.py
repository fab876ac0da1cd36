"""Gatys et al. optimisation: change the image itself until its encoder features match the content's
(relu4_1) and its Gram matrices match the style's (relu1_1 ... relu5_1).

The losses are relative (squared error divided by the target's squared norm), so content and style
terms are comparable whatever the encoder's feature scale; they are also what `benchmarks/stylize.py`
reports for every method.

High resolution: the image is optimised whole, but its loss gradient is computed window by window.
A Gram matrix is a sum over locations, so a first pass accumulates the whole image's Grams from all
windows (no gradients kept); a second pass back-propagates, window by window, the exact gradient of the
global loss through each window's core features. Memory is bounded by one window's graph, and because
every step moves the whole image with whole-image gradients there is nothing to blend at tile borders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from brushwork.device import statistics_dtype
from brushwork.images import fit_long_side, resize_tensor
from brushwork.losses import gram, gram_count, gram_loss, gram_sum
from brushwork.stylize.job import Job
from brushwork.stylize.models import Net
from brushwork.stylize.tiling import Tile, pad_to_grid, plan

STYLE_TAPS = ("1", "2", "3", "4", "5")
CONTENT_TAP = "4"
SCALES = {tap: 2 ** (int(tap) - 1) for tap in STYLE_TAPS}
LBFGS_MEMORY = 1 << 30  # bytes of L-BFGS history at most


def _precise(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in the statistics dtype of its device: Gram matrices and loss sums are summed in float64
    (float32 on MPS, which has no float64)."""
    return tensor.to(statistics_dtype(tensor.device))


@dataclass(frozen=True)
class Losses:
    content: float  # ‖F4(x) − F4(c)‖² / ‖F4(c)‖² at relu4_1
    style: float  # Σ over relu1_1..relu5_1 of ‖G(x) − G(s)‖² / ‖G(s)‖²


def style_targets(net: Net, styles: Sequence[torch.Tensor], style_weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Weighted sum of the styles' Gram matrices per tap (interpolation between style images)."""
    targets: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for w, style in zip(style_weights, styles, strict=True):
            feats = net(style, STYLE_TAPS)
            for tap in STYLE_TAPS:
                targets[tap] = targets.get(tap, 0) + w * _precise(gram(feats[tap]))
    return targets


def measure(net: Net, output: torch.Tensor, content: torch.Tensor, targets: dict[str, torch.Tensor]) -> Losses:
    """Content and style losses of an output image (same size as content), untiled."""
    with torch.no_grad():
        out = net(output, STYLE_TAPS)
        ref = _precise(net(content, (CONTENT_TAP,))[CONTENT_TAP])
        content_loss = float(((_precise(out[CONTENT_TAP]) - ref) ** 2).sum() / (ref**2).sum())
        style_loss = sum(float(gram_loss(_precise(gram(out[t])), targets[t])) for t in STYLE_TAPS)
    return Losses(content_loss, style_loss)


class _Objective:
    """content + weight·style over a tiled image; `__call__` fills x.grad and returns the loss."""

    def __init__(self, net: Net, content: torch.Tensor, targets: dict[str, torch.Tensor], tiles: list[Tile],
                 style_weight: float):
        self.net, self.tiles, self.targets, self.style_weight = net, tiles, targets, style_weight
        with torch.no_grad():
            self.content_feats = [tile.core_of_window(net(tile.window(content), (CONTENT_TAP,))[CONTENT_TAP],
                                                      SCALES[CONTENT_TAP]) for tile in tiles]
        self.content_norm = sum(float((_precise(f) ** 2).sum()) for f in self.content_feats)

    def _taps(self) -> tuple[str, ...]:
        return STYLE_TAPS if self.style_weight > 0 else (CONTENT_TAP,)

    def _whole(self, x: torch.Tensor) -> float:
        """One window covering the image: plain autograd, one forward and one backward pass."""
        feats = self.net(x, self._taps())
        loss = ((feats[CONTENT_TAP] - self.content_feats[0]) ** 2).sum() / self.content_norm
        if self.style_weight > 0:
            for t in STYLE_TAPS:
                loss = loss + self.style_weight * gram_loss(_precise(gram(feats[t])), self.targets[t])
        x.grad = None
        loss.backward()
        return float(loss.detach())

    def __call__(self, x: torch.Tensor) -> float:
        if len(self.tiles) == 1:
            return self._whole(x)
        taps = self._taps()
        # Pass 1: the whole image's Gram matrices (a sum over windows' cores), without a graph.
        grams = {t: torch.zeros_like(g) for t, g in self.targets.items()}
        counts = dict.fromkeys(STYLE_TAPS, 0)
        if self.style_weight > 0:
            with torch.no_grad():
                for tile in self.tiles:
                    feats = self.net(tile.window(x), taps)
                    for t in STYLE_TAPS:
                        f = tile.core_of_window(feats[t], SCALES[t])
                        grams[t] += gram_sum(_precise(f))
                        counts[t] += gram_count(f)
        # d(style loss)/dG per tap (of `gram_loss`: 2 (G − T) / ‖T‖², per unnormalised Gram entry also
        # / count), held fixed while pass 2 pushes it through each window's features.
        loss = 0.0
        dgram = {}
        if self.style_weight > 0:
            for t in STYLE_TAPS:
                target = self.targets[t]
                loss += self.style_weight * float(gram_loss(grams[t] / counts[t], target))
                norm = float((target**2).sum())
                dgram[t] = (self.style_weight * 2 * (grams[t] / counts[t] - target) / norm / counts[t]).float()
        x.grad = torch.zeros_like(x)
        for tile, ref in zip(self.tiles, self.content_feats, strict=True):
            window = tile.window(x.detach()).clone().requires_grad_(True)
            feats = self.net(window, taps)
            f4 = tile.core_of_window(feats[CONTENT_TAP], SCALES[CONTENT_TAP])
            part = ((f4 - ref) ** 2).sum() / self.content_norm
            loss += float(part.detach())
            for t in dgram:
                f = tile.core_of_window(feats[t], SCALES[t])
                # <dL/dG, f fᵀ> has the same gradient in f as the global loss restricted to this window.
                part = part + (dgram[t] * gram_sum(f)).sum()
            part.backward()
            assert window.grad is not None  # the backward pass filled it
            x.grad[..., tile.wy0:tile.wy1, tile.wx0:tile.wx1] += window.grad
        return loss


def optimise(net: Net, init: torch.Tensor, content: torch.Tensor, targets: dict[str, torch.Tensor],
             tiles: list[Tile], steps: int, style_weight: float, optimizer: str = "lbfgs",
             lr: float = 0.02, on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Optimise the image `init` (1, 3, H, W) for `steps` iterations; returns it clamped to [0, 1].

    `on_step(done, total)` is called after every loss evaluation (L-BFGS may evaluate up to 1.25x
    `steps` times); an exception it raises stops the optimisation (cancellation).
    """
    objective = _Objective(net, content, targets, tiles, style_weight)
    budget = steps + steps // 4 if optimizer == "lbfgs" else steps
    evaluations = 0

    def evaluate(x: torch.Tensor) -> float:
        nonlocal evaluations
        loss = objective(x)
        evaluations += 1
        if on_step is not None:
            on_step(min(evaluations, budget), budget)
        return loss

    x = init.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)  # LBFGS views grads flat
    if steps <= 0:
        return x.detach().clamp(0, 1)
    if optimizer == "lbfgs":
        # L-BFGS keeps two image-sized vectors per remembered step: cap them at LBFGS_MEMORY in all, so a
        # 4096 px image (150 MB per vector) remembers 3 steps instead of using 6 GB for 20.
        history = int(max(2, min(20, LBFGS_MEMORY // (2 * x.numel() * x.element_size()))))
        lbfgs = torch.optim.LBFGS([x], lr=1.0, max_iter=steps, max_eval=budget, history_size=history,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)
        lbfgs.step(lambda: torch.tensor(evaluate(x), device=x.device))
    elif optimizer == "adam":
        adam = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            evaluate(x)
            adam.step()
            with torch.no_grad():
                x.clamp_(0, 1)  # keep pixels displayable as Adam moves them
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    return x.detach().clamp(0, 1)


def run(job: Job) -> torch.Tensor:
    """The Gatys method: optimise at the working size, then (for larger outputs) refine at the output
    size, tiled. The mask is applied by the caller, to the result."""
    # It back-propagates, so it leaves a caller's inference mode (whose tensors could take no gradient).
    with torch.inference_mode(False):
        return _stages(job)


def _stages(job: Job) -> torch.Tensor:
    opts = job.options
    net = job.models.loss_network(job.device)
    assert opts.style_weights is not None and opts.alpha is not None  # validate() fills them in
    targets = style_targets(net, job.styles, opts.style_weights)
    weight = opts.alpha * opts.style_weight
    height, width = job.content.shape[-2:]
    stages = [(fit_long_side(height, width, opts.work_size), opts.steps)] if max(height, width) > opts.work_size else []
    stages.append(((height, width), opts.refine_steps if stages else opts.steps))
    x: torch.Tensor | None = None  # the previous stage's result, unpadded
    for index, ((h, w), steps) in enumerate(stages):
        stage_content, _ = pad_to_grid(resize_tensor(job.content, h, w))
        init = stage_content if x is None else pad_to_grid(resize_tensor(x, h, w))[0]
        tiles = plan(stage_content.shape[-2], stage_content.shape[-1], opts.tile, opts.margin)

        def on_step(done: int, total: int, index: int = index, h: int = h, w: int = w) -> None:
            job.progress((index + done / total) / len(stages), f"gatys {w}x{h} step {done}/{total}")

        x = optimise(net, init, stage_content, targets, tiles, steps, weight, opts.optimizer,
                     on_step=on_step)[..., :h, :w]
    job.progress(1.0, "gatys")
    assert x is not None  # there is always a last stage
    return x
