"""One stylization as every method receives it (`stylize.methods`): tensors already on the device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from brushwork.settings import StyleOptions
from brushwork.stylize.models import Models

Progress = Callable[[float, str], None]  # (fraction done in 0..1, never decreasing; stage) — may raise to stop


@dataclass(frozen=True)
class Job:
    """What a method gets: the content at the output size, the styles at their working sizes and the
    mask (all on `device`), validated options, the models and the progress callback. A method returns
    the stylized content, (1, 3, H, W) in [0, 1] on `device`; masking and colour preservation come after."""

    content: torch.Tensor  # (1, 3, H, W) in [0, 1]
    styles: list[torch.Tensor]  # (1, 3, h, w) each, at least 32 px on a side
    mask: torch.Tensor | None  # (1, 1, H, W) in [0, 1]: where the style applies
    options: StyleOptions  # validated: style_weights and (for feed-forward methods) levels filled in
    models: Models
    device: torch.device
    progress: Progress
