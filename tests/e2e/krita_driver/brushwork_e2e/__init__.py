"""Test driver inside a real Krita (tests/e2e/test_krita.py): opens an image, selects a region,
runs Tools > Scripts > "Paint with strokes…" through its dialog, waits for the new layers, and
writes what it finds (layer names, types, bounds, raw pixels) for the test to check. The job file
named by $BRUSHWORK_E2E holds the inputs; everything this driver sees goes to its "result" file."""

import json
import os
import time
import traceback

from krita import Extension, InfoObject, Krita, Selection  # noqa: F401
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QMessageBox

CONF = json.load(open(os.environ["BRUSHWORK_E2E"]))
OUT = CONF["out"]


def _write(result):
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


class Driver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.result = {"events": []}
        self.doc = None

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(500, self.run))

    def createActions(self, window):
        pass

    def log(self, text):
        self.result["events"].append(f"{time.monotonic():.2f} {text}")

    def run(self):
        try:
            app = Krita.instance()
            app.writeSetting("brushwork", "PaintOptions", json.dumps(CONF["options"]))  # "last used" values
            self.doc = app.openDocument(CONF["image"])
            app.activeWindow().addView(self.doc)  # vector layers need a view
            x, y, w, h = CONF["selection"]
            selection = Selection()
            selection.select(x, y, w, h, 255)
            self.doc.setSelection(selection)
            self.log("document open")
            QTimer.singleShot(300, self.accept_dialog)
            action = app.action("brushwork_paint")
            if action is None:
                raise RuntimeError("the brushwork plug-in did not register its action")
            self.started = time.monotonic()
            action.trigger()  # opens the dialog (a nested event loop) and returns once the job is started
            self.log("action returned")
            self.poll = QTimer()
            self.poll.timeout.connect(self.check)
            self.poll.start(100)
        except Exception:
            self.fail(traceback.format_exc())

    def accept_dialog(self):
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            self.fail("no dialog opened")
            return
        self.result["dialog"] = {"title": dialog.windowTitle(), "strokes": dialog.strokes.value(),
                                 "brush": dialog.brush.currentText(), "iterations": dialog.iterations.value()}
        self.log("dialog accepted")
        dialog.accept()

    def check(self):
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QMessageBox):
            self.fail("message box: " + modal.text())
            return
        names = [node.name() for node in self.doc.topLevelNodes()]
        if "brushwork painting" in names and "brushwork strokes" in names:
            self.poll.stop()
            self.result["job_seconds"] = time.monotonic() - self.started
            self.log("layers added")
            QTimer.singleShot(CONF.get("settle_ms", 1000), self.collect)  # vector shapes render asynchronously
        elif time.monotonic() - self.started > CONF["timeout"]:
            self.fail(f"no result layers after {CONF['timeout']} s; layers: {names}")

    def collect(self):
        try:
            doc = self.doc
            w, h = doc.width(), doc.height()
            layers = {}
            for node in doc.topLevelNodes():
                bounds = node.bounds()
                layers[node.name()] = {"type": node.type(), "bounds": [bounds.x(), bounds.y(), bounds.width(),
                                                                       bounds.height()]}
            for name, file in (("brushwork painting", "paint.bgra"), ("brushwork strokes", "vector.bgra")):
                node = doc.nodeByName(name)
                with open(os.path.join(OUT, file), "wb") as f:
                    f.write(bytes(node.projectionPixelData(0, 0, w, h)))
            self.result.update(ok=True, layers=layers, width=w, height=h)
        except Exception:
            self.result["error"] = traceback.format_exc()
        self.quit()

    def fail(self, text):
        self.result["error"] = text
        if getattr(self, "poll", None) is not None:
            self.poll.stop()
        self.quit()

    def quit(self):
        _write(self.result)
        app = Krita.instance()
        for modal in (QApplication.activeModalWidget(),):
            if modal is not None:
                modal.close()
        for doc in app.documents():  # unmodified, then closed: otherwise "save changes?" hangs the run
            doc.setModified(False)
            doc.close()
        QTimer.singleShot(200, lambda: app.action("file_quit").trigger())


Krita.instance().addExtension(Driver(Krita.instance()))
