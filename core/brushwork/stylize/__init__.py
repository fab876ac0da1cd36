"""Raster style transfer: AdaIN, WCT and Gatys on VGG-19 encoder/decoder pairs, at any resolution.

    from brushwork.stylize import stylize, StyleOptions, load_image
    out = stylize(load_image("photo.jpg"), [load_image("starry.jpg")], StyleOptions(method="wct", alpha=0.8))
"""

from brushwork.settings import METHODS, StyleOptions
from brushwork.stylize.api import load_image, load_mask, stylize
from brushwork.stylize.models import CD16xModels, Models, VGGModels

__all__ = ["CD16xModels", "METHODS", "Models", "StyleOptions", "VGGModels", "load_image", "load_mask", "stylize"]
