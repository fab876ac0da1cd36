"""brushwork for Krita: the brushwork docker (Settings ▸ Dockers ▸ brushwork), also shown by Tools ▸
Scripts ▸ "brushwork: Paint with strokes…" / "brushwork: Stylize…".

Layers: ui.py (Qt widgets, Krita actions, the docker) → jobs.py (jobs on documents and their queue) →
document.py (the Krita document API) and bridge_client.py (stdlib HTTP client of `brushwork serve`,
copied in by `brushwork plugins install krita`). model.py holds the logic that needs neither Krita nor Qt.
"""

from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita

from .ui import DOCKER_ID, BrushworkDocker, BrushworkExtension

Krita.instance().addExtension(BrushworkExtension(Krita.instance()))
Krita.instance().addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, BrushworkDocker))
