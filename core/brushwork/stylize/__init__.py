"""Raster style transfer: AdaIN, WCT and Gatys on VGG-19 encoder/decoder pairs, at any resolution,
on any device (`StyleOptions.device`).

    from brushwork.images import load_rgb8
    from brushwork.stylize import stylize, StyleOptions
    out = stylize(load_rgb8("photo.jpg"), [load_rgb8("starry.jpg")], StyleOptions(method="wct", alpha=0.8))
    out = brushwork.stylize("photo.jpg", model="starry_night")  # a trained style: no style image

Methods are registered by name in `stylize.methods`. The package itself is callable:
`brushwork.stylize(...)` is `brushwork.stylize.stylize(...)`.
"""

from brushwork.callable_package import make_callable
from brushwork.settings import METHODS, StyleOptions
from brushwork.stylize.api import stylize
from brushwork.stylize.models import CD16xModels, Models, VGGModels

__all__ = ["CD16xModels", "METHODS", "Models", "StyleOptions", "VGGModels", "stylize"]

make_callable(__name__, stylize)  # brushwork.stylize(...) is stylize(...)
