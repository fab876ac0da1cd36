"""The stylization methods by name: the one place `stylize` looks a method up.

Adding a method is one module in `stylize/` (a function `Job -> tensor`, or for a feed-forward method a
`MapMaker` wrapped in `FeedForward`) plus one line here, and its name in `brushwork.settings.METHODS`
(which the CLI, the server and the plug-ins offer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch

from brushwork.errors import BrushworkError
from brushwork.stylize import gatys, microast, trained
from brushwork.stylize.adain import adain_map
from brushwork.stylize.feedforward import FeedForward
from brushwork.stylize.job import Job
from brushwork.stylize.wct import wct_map

Method = Callable[[Job], torch.Tensor]

REGISTRY: Mapping[str, Method] = MappingProxyType({
    "adain": FeedForward(adain_map, adain_decoder=True),
    "wct": FeedForward(wct_map),
    "gatys": gatys.run,
    "microast": microast.run,
    "trained": trained.run,
})


def method(name: str) -> Method:
    """The method registered as `name`; any other name is a BrushworkError listing the choices
    (never a silent fallback to another method)."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise BrushworkError(f"--method {name!r}: expected one of {', '.join(REGISTRY)}") from None
