"""Trained neural stroke renderers, one folder per brush kind (weights + model card).

Installed as package data; `brushwork.neural` loads them from here.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable


def renderer_dir(kind: str) -> Traversable:
    """The folder that holds the shipped renderer of one brush kind."""
    return files(__name__) / kind
