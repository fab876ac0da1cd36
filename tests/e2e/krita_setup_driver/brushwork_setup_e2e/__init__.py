"""Test driver inside a real Krita (tests/e2e/test_krita_setup.py), acting as an artist who installs
brushwork from its release zip. $BRUSHWORK_SETUP_E2E names a JSON file whose "phase" says what to do:

- "import": Tools > Scripts > "Import Python Plugin from File..." (Krita's own importer), choose the
  zip in its file dialog, answer Yes to "Enable plugins now?", quit;
- "setup": open an image, show the brushwork docker, press "Set up engine", wait for it, then paint
  with the Draft preset and save the result layer's pixels; quit.

What it sees goes to the "result" JSON file."""

import json
import os
import time
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
)

CONF = json.load(open(os.environ["BRUSHWORK_SETUP_E2E"]))


class SetupDriver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.result = {"events": []}
        self.timer = None
        self.doc = None

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(800, self.start))

    def createActions(self, window):
        pass

    def log(self, text):
        self.result["events"].append(f"{time.monotonic():.1f} {text}")

    def start(self):
        try:
            QTimer.singleShot(int(CONF["timeout"] * 1000), lambda: self.fail("watchdog: the run took too long"))
            if CONF["phase"] == "import":
                self.import_zip()
            else:
                self.set_up_and_paint()
        except Exception:
            self.fail(traceback.format_exc())

    # -- phase 1 ------------------------------------------------------------------------------------

    def import_zip(self):
        answers = QTimer()
        answers.timeout.connect(self.answer_dialogs)
        answers.start(200)
        action = Krita.instance().action("plugin_importer_file")
        if action is None:
            raise RuntimeError("Krita has no 'Import Python Plugin from File...' action")
        action.trigger()  # runs the file dialog and the questions in nested event loops
        answers.stop()
        pykrita = os.path.join(Krita.instance().getAppDataLocation(), "pykrita")
        self.result["installed"] = sorted(os.listdir(pykrita))
        self.result["enabled"] = Krita.instance().readSetting("python", "enable_brushwork_krita", "")
        self.result["ok"] = True
        self.finish()

    def answer_dialogs(self):
        modal = QApplication.activeModalWidget()
        seen = f"{type(modal).__name__}: {modal.windowTitle() if modal is not None else ''}"
        if seen != getattr(self, "last_seen", None):
            self.last_seen = seen
            self.log(f"modal {seen}")
        if isinstance(modal, QFileDialog):
            # give the dialog a moment to list its folder first (closing it while Qt's file system
            # model is still being filled crashed Krita here)
            self.dialog_seen = getattr(self, "dialog_seen", None) or time.monotonic()
            if time.monotonic() - self.dialog_seen < 1.5 or getattr(self, "chosen", False):
                return
            self.chosen = True
            self.log(f"file dialog: choosing {CONF['zip']}")
            name = modal.findChild(QLineEdit, "fileNameEdit")  # typed in, as a user would
            if name is None:
                self.fail("the file dialog has no file name field")
                return
            name.setText(CONF["zip"])
            QTimer.singleShot(300, modal.accept)
        elif isinstance(modal, QMessageBox):
            self.log(f"question: {modal.text()[:120]}")
            yes = modal.button(QMessageBox.Yes)
            if yes is None:
                self.fail("message box: " + modal.text())
                return
            yes.click()

    # -- phase 2 ------------------------------------------------------------------------------------

    def widget(self, kind, name):
        found = Krita.instance().activeWindow().qwindow().findChild(kind, name)
        if found is None:
            raise RuntimeError(f"no {kind.__name__} named {name}")
        return found

    def set_up_and_paint(self):
        app = Krita.instance()
        self.doc = app.openDocument(CONF["image"])
        app.activeWindow().addView(self.doc)
        app.action("brushwork_paint").trigger()  # the menu action shows the docker
        self.log("engine: " + self.widget(QLabel, "brushwork_engine_status").text())
        self.widget(QPushButton, "brushwork_engine_setup").click()
        self.started = time.monotonic()
        self.poll(self.engine_ready)

    def poll(self, check):
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: self.guarded(check))
        self.timer.start(250)

    def guarded(self, check):
        try:
            check()
        except Exception:
            self.fail(traceback.format_exc())

    def engine_ready(self):
        status = self.widget(QLabel, "brushwork_engine_status").text()
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QMessageBox):
            self.fail("message box: " + modal.text())
        elif status.startswith("Engine ready"):
            self.timer.stop()
            self.result["setup_seconds"] = time.monotonic() - self.started
            self.log(status)
            preset = self.widget(QComboBox, "brushwork_paint_preset")
            preset.setCurrentIndex(preset.findData("Draft"))
            self.widget(QPushButton, "brushwork_paint_run").click()
            self.started = time.monotonic()
            self.poll(self.painted)
        elif status.startswith("Set-up failed"):
            self.fail(status)

    def painted(self):
        names = [node.name() for node in self.doc.topLevelNodes()]
        title = CONF["title"]
        if title in names:
            self.timer.stop()
            self.result["paint_seconds"] = time.monotonic() - self.started
            group = next(node for node in self.doc.topLevelNodes() if node.name() == title)
            painting = group.childNodes()[0]
            with open(CONF["painting"], "wb") as f:
                f.write(bytes(painting.projectionPixelData(0, 0, self.doc.width(), self.doc.height())))
            engine = json.loads(Krita.instance().readSetting("brushwork", "EngineSettings", "") or "{}")
            self.result["engine_python"] = engine.get("python")
            if CONF.get("screenshot"):
                QTimer.singleShot(1500, self.screenshot)  # let the canvas and the layers docker redraw
            else:
                self.result["ok"] = True
                self.finish()
        else:
            message = self.widget(QLabel, "brushwork_message").text()
            if "failed" in message.lower():
                self.fail("paint: " + message)

    def screenshot(self):
        """The whole screen, with the docker floated beside the window at a readable size: what the
        README shows (the painting, its layer group, the docker with its queue, history and engine)."""
        try:
            window = Krita.instance().activeWindow().qwindow()
            window.setGeometry(0, 0, 900, 760)
            docker = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == "brushwork")
            docker.setFloating(True)
            docker.setGeometry(905, 0, 370, 1000)
            QTimer.singleShot(1500, lambda: self.guarded(self.grab))
        except Exception:
            self.fail(traceback.format_exc())

    def grab(self):
        QApplication.primaryScreen().grabWindow(0).copy(0, 0, 1280, 1000).save(CONF["screenshot"])
        self.result["ok"] = True
        self.finish()

    # -- ending -------------------------------------------------------------------------------------

    def fail(self, text):
        if "error" in self.result or self.result.get("ok"):
            return
        self.result["error"] = text
        self.finish()

    def finish(self):
        if self.timer is not None:
            self.timer.stop()
        with open(CONF["result"], "w") as f:
            json.dump(self.result, f, indent=1)
        app = Krita.instance()
        modal = QApplication.activeModalWidget()
        if modal is not None:
            modal.close()
        for doc in app.documents():  # unmodified, then closed: otherwise "save changes?" hangs the run
            doc.setModified(False)
            doc.close()
        QTimer.singleShot(200, lambda: app.action("file_quit").trigger())


Krita.instance().addExtension(SetupDriver(Krita.instance()))
