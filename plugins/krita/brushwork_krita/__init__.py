"""brushwork for Krita: Tools ▸ Scripts ▸ Paint with strokes… / Stylize….

Layers: ui.py (Qt widgets, Krita actions) → jobs.py (a job on a document) → document.py (the Krita
document API) and bridge_client.py (stdlib HTTP client of `brushwork serve`, copied in by
`brushwork plugins install krita`). model.py holds the logic that needs neither Krita nor Qt.
"""

from krita import Krita

from .ui import BrushworkExtension

Krita.instance().addExtension(BrushworkExtension(Krita.instance()))
