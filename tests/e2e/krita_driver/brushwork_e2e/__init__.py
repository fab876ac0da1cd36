"""Test driver inside a real Krita (tests/e2e/test_krita.py). After the window opens it opens an image,
selects a region and, like a user, runs through their dialogs:

1. Tools > Scripts > "Paint with strokes…" once per brush kind, waits for each job's layer group (its
   paint and vector layers);
2. "Stylize…", waits for the stylized layer;
3. "Paint with strokes…" again with a long job, and presses Cancel in the progress dialog;
4. converts the document to 16 bits per channel and paints once more.

Meanwhile a 50 ms timer measures the longest stall of Krita's UI thread, and the progress dialog is
watched for progress and previews. Inputs come from the JSON file named by $BRUSHWORK_E2E; what the
driver sees (layers, raw pixels, timings, events) goes to result.json and *.bgra in its "out" folder."""

import json
import os
import time
import traceback

from krita import Extension, Krita, Selection
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QLineEdit, QMessageBox, QSpinBox

CONF = json.load(open(os.environ["BRUSHWORK_E2E"]))
OUT = CONF["out"]
PAINT, VECTOR, STYLIZED = "brushwork painting", "brushwork strokes", "brushwork stylized"
LABELS = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}


def paint_title(options):
    return f"brushwork: {LABELS[options['brush']]}, {options['strokes']:,} strokes"


class Driver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.result = {"events": [], "dialogs": [], "progress": [], "previews": 0, "max_stall": 0.0}
        self.doc = None
        self.poll = None
        self.heartbeat = None
        self.last_beat = None

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(500, self.start))

    def createActions(self, window):
        pass

    def log(self, text):
        self.result["events"].append(f"{time.monotonic():.2f} {text}")

    # -- the UI thread's heartbeat: a stall here is a frozen Krita -----------------------------------

    def beat(self):
        now = time.monotonic()
        if self.last_beat is not None:
            self.result["max_stall"] = max(self.result["max_stall"], now - self.last_beat)
        self.last_beat = now
        progress = QApplication.activeModalWidget()
        if progress is not None and hasattr(progress, "bar"):  # brushwork's ProgressDialog
            value = progress.bar.value()
            if not self.result["progress"] or self.result["progress"][-1] != value:
                self.result["progress"].append(value)
            pixmap = progress.preview.pixmap()
            if pixmap is not None and not pixmap.isNull():
                self.result["previews"] += 1

    # -- steps ----------------------------------------------------------------------------------------

    def start(self):
        try:
            app = Krita.instance()
            self.doc = app.openDocument(CONF["image"])
            app.activeWindow().addView(self.doc)  # vector layers need a view
            x, y, w, h = CONF["selection"]
            selection = Selection()
            selection.select(x, y, w, h, 255)
            self.doc.setSelection(selection)
            self.log("document open")
            # whatever happens, end the run (with what was seen) before the test's own timeout
            QTimer.singleShot(int(CONF["timeout"] * 1000), lambda: self.fail("watchdog: the run took too long"))
            self.heartbeat = QTimer()
            self.heartbeat.timeout.connect(self.beat)
            self.heartbeat.start(50)
            self.paints = list(CONF["paints"])
            self.next_paint()
        except Exception:
            self.fail(traceback.format_exc())

    def run_action(self, action_name, settings_key, options, layers, then):
        """Seed the dialog's remembered values, trigger the action, accept its dialog, wait for `layers`."""
        app = Krita.instance()
        app.writeSetting("brushwork", settings_key, json.dumps(options))
        QTimer.singleShot(300, self.accept_dialog)
        action = app.action(action_name)
        if action is None:
            raise RuntimeError(f"the brushwork plug-in did not register {action_name}")
        self.started = time.monotonic()
        self.last_beat = None  # the modal dialog's own wait is not a stall
        action.trigger()  # the dialog runs a nested event loop; this returns once the job is started
        self.log(f"{action_name} started")
        self.wait_for(layers, then)

    def accept_dialog(self):
        try:
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                self.fail("no dialog opened")
                return
            values = {}
            for name in ("strokes", "brush", "iterations", "style", "method"):
                widget = getattr(dialog, name, None)
                if isinstance(widget, (QSpinBox, QComboBox, QLineEdit)):  # not QWidget.style()
                    values[name] = widget.value() if isinstance(widget, QSpinBox) else \
                        widget.currentText() if isinstance(widget, QComboBox) else widget.text()
            self.result["dialogs"].append({"title": dialog.windowTitle(), **values})
            self.last_beat = time.monotonic()
            dialog.accept()
        except Exception:
            self.fail(traceback.format_exc())

    def wait_for(self, layers, then):
        def check():
            modal = QApplication.activeModalWidget()
            if isinstance(modal, QMessageBox):
                self.fail("message box: " + modal.text())
                return
            names = [node.name() for node in self.doc.topLevelNodes()]
            if all(name in names for name in layers):
                self.poll.stop()
                self.result.setdefault("seconds", {})[layers[0]] = time.monotonic() - self.started
                self.log(f"{layers} added")
                QTimer.singleShot(CONF.get("settle_ms", 1000), then)  # vector shapes render asynchronously
            elif time.monotonic() - self.started > CONF["timeout"]:
                self.fail(f"no {layers} after {CONF['timeout']} s; layers: {names}")

        self.poll = QTimer()
        self.poll.timeout.connect(check)
        self.poll.start(100)

    def save(self, node, file):
        with open(os.path.join(OUT, file), "wb") as f:
            f.write(bytes(node.projectionPixelData(0, 0, self.doc.width(), self.doc.height())))

    def group(self, title):
        return next(node for node in self.doc.topLevelNodes() if node.name() == title)

    def next_paint(self):
        """Paint with the next brush kind, or go on to Stylize when every kind has been painted."""
        if not self.paints:
            self.result["paint_stall"] = self.result["max_stall"]
            self.run_action("brushwork_stylize", "StylizeOptions", CONF["stylize"], [CONF["stylize_title"]],
                            self.after_stylize)
            return
        options = self.paints.pop(0)
        title = paint_title(options)
        self.run_action("brushwork_paint", "PaintOptions", options, [title], lambda: self.after_paint(options, title))

    def after_paint(self, options, title):
        try:
            children = self.group(title).childNodes()  # bottom to top
            self.result.setdefault("groups", {})[title] = [[n.name(), n.type()] for n in children]
            for node in children:
                self.save(node, f"{options['brush']}.{node.type()}.bgra")
            self.next_paint()
        except Exception:
            self.fail(traceback.format_exc())

    def after_stylize(self):
        try:
            group = self.group(CONF["stylize_title"])
            self.result.setdefault("groups", {})[CONF["stylize_title"]] = [[n.name(), n.type()]
                                                                          for n in group.childNodes()]
            self.save(group.childNodes()[0], "stylized.bgra")
            # a long job, cancelled from its progress dialog once the painter is at work and has shown a preview
            app = Krita.instance()
            app.writeSetting("brushwork", "PaintOptions", json.dumps(CONF["cancel"]))
            QTimer.singleShot(300, self.accept_dialog)
            self.layers_before = len(self.doc.topLevelNodes())
            self.started = time.monotonic()
            self.last_beat = None
            app.action("brushwork_paint").trigger()
            self.poll = QTimer()
            self.poll.timeout.connect(self.cancel_when_running)
            self.poll.start(100)
        except Exception:
            self.fail(traceback.format_exc())

    def cancel_when_running(self):
        progress = QApplication.activeModalWidget()
        if progress is not None and hasattr(progress, "bar") and progress.message.text().startswith("painting") \
                and self.result["previews"] > 0:  # a preview arrives every 2 s of painting
            self.poll.stop()
            self.log("pressing Cancel")
            progress.findChild(QDialogButtonBox).button(QDialogButtonBox.Cancel).click()
            QTimer.singleShot(1500, self.after_cancel)
        elif time.monotonic() - self.started > CONF["timeout"]:
            self.fail("the long job never showed progress")

    def after_cancel(self):
        try:
            self.result["cancel"] = {"dialog_open": QApplication.activeModalWidget() is not None,
                                     "layers_added": len(self.doc.topLevelNodes()) - self.layers_before}
            # a 16-bit document is painted too (Krita converts a copy; the document stays 16-bit)
            self.doc.setColorSpace("RGBA", "U16", "")
            self.doc.waitForDone()
            options = CONF["deep"]
            title = paint_title(options) + " (2)"  # the same job as before: its group gets a new name
            self.run_action("brushwork_paint", "PaintOptions", options, [title], lambda: self.after_deep(title))
        except Exception:
            self.fail(traceback.format_exc())

    def after_deep(self, title):
        try:
            painting = self.group(title).childNodes()[0]
            self.result["deep"] = {"document": [self.doc.colorModel(), self.doc.colorDepth()],
                                   "layer": [painting.colorModel(), painting.colorDepth()]}
            self.save(painting, "deep.bgra")
            self.result["ok"] = True
            self.finish()
        except Exception:
            self.fail(traceback.format_exc())

    # -- ending -----------------------------------------------------------------------------------------

    def fail(self, text):
        if "error" in self.result or self.result.get("ok"):
            return
        self.result["error"] = text
        if self.poll is not None:
            self.poll.stop()
        self.finish()

    def finish(self):
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.doc is not None:
            self.result["layers"] = {}
            for node in self.doc.topLevelNodes():
                bounds = node.bounds()
                self.result["layers"][node.name()] = {
                    "type": node.type(), "bounds": [bounds.x(), bounds.y(), bounds.width(), bounds.height()]}
        with open(os.path.join(OUT, "result.json"), "w") as f:
            json.dump(self.result, f, indent=1)
        app = Krita.instance()
        modal = QApplication.activeModalWidget()
        if modal is not None:
            modal.close()
        for doc in app.documents():  # unmodified, then closed: otherwise "save changes?" hangs the run
            doc.setModified(False)
            doc.close()
        QTimer.singleShot(200, lambda: app.action("file_quit").trigger())


Krita.instance().addExtension(Driver(Krita.instance()))
