"""Test driver inside a real Krita (tests/e2e/test_krita_vector.py): for each SVG named in the JSON
file $BRUSHWORK_SVG_E2E it makes a document of the given size, adds the SVG as a vector layer the
way the brushwork plug-in does, lets Krita render the shapes, and saves the layer's pixels (BGRA) and
its shape count; then quits. Errors go to result.json."""

import json
import os
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer

CONF = json.load(open(os.environ["BRUSHWORK_SVG_E2E"]))


class SvgDriver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.result = {"items": []}
        self.pending = list(CONF["items"])

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(500, self.next))

    def createActions(self, window):
        pass

    def next(self):
        try:
            if not self.pending:
                self.finish()
                return
            item = self.pending.pop(0)
            app = Krita.instance()
            doc = app.createDocument(item["width"], item["height"], "svg-check", "RGBA", "U8", "", 72.0)
            app.activeWindow().addView(doc)  # vector layers need a view
            layer = doc.createVectorLayer("strokes")
            doc.rootNode().addChildNode(layer, None)
            with open(item["svg"], encoding="utf-8") as f:
                layer.addShapesFromSvg(f.read())
            QTimer.singleShot(CONF.get("settle_ms", 1500), lambda: self.save(doc, layer, item))
        except Exception:
            self.fail(traceback.format_exc())

    def save(self, doc, layer, item):
        try:
            with open(item["out"], "wb") as f:
                f.write(bytes(layer.projectionPixelData(0, 0, doc.width(), doc.height())))
            self.result["items"].append({"out": item["out"], "shapes": len(layer.shapes()),
                                         "shape_types": sorted({s.type() for s in layer.shapes()})})
            self.next()
        except Exception:
            self.fail(traceback.format_exc())

    def fail(self, text):
        self.result["error"] = text
        self.finish()

    def finish(self):
        with open(CONF["result"], "w") as f:
            json.dump(self.result, f, indent=1)
        app = Krita.instance()
        for doc in app.documents():  # unmodified, then closed: otherwise "save changes?" hangs the run
            doc.setModified(False)
            doc.close()
        QTimer.singleShot(200, lambda: app.action("file_quit").trigger())


Krita.instance().addExtension(SvgDriver(Krita.instance()))
