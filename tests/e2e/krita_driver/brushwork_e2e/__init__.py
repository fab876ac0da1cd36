"""Test driver inside a real Krita (tests/e2e/test_krita.py). After the window opens it opens an image,
selects a region and, like a user, works through the brushwork docker's widgets (found by objectName):

0. the menu actions show the docker on the Paint / Stylize panel;
1. the bridge first finds a server that hangs mid-job (a stand-in the test runs): a job is sent, then
   cancelled; Cancel must return at once and the UI keep beating. Then the driver removes that
   server's state file (as a dying server does) and the stand-in goes away;
2. Paint, once per brush kind, all four queued at once; waits for each job's layer group while
   watching the live preview layer;
3. Stylize, then "Apply again" on that result from the history; then Stylize with a trained style
   (Model) and no style image;
4. a long paint job, cancelled from the queue once its preview is on the canvas;
5. converts the document to 16 bits per channel and paints once more, then once with "Active layer
   only" on a hidden green layer.

Meanwhile a 20 ms timer measures the longest stall of Krita's UI thread in each phase. Inputs come
from the JSON file named by $BRUSHWORK_E2E; what the driver sees (layers, raw pixels, timings,
widgets, events) goes to result.json and *.bgra in its "out" folder."""

import json
import os
import sys
import threading
import time
import traceback

from krita import Extension, Krita, Selection
from PyQt5.QtCore import QByteArray, Qt, QTimer
from PyQt5.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QWidget,
)

CONF = json.load(open(os.environ["BRUSHWORK_E2E"]))
OUT = CONF["out"]
PREVIEW = "brushwork preview"  # in the group "<job title> (in progress)"
RESULT_LAYERS = ("brushwork painting", "brushwork stylized")
LABELS = {"oilbrush": "oil brush", "watercolor": "watercolour", "markerpen": "marker pen", "tape": "tape"}


def paint_title(options):
    return f"brushwork: {LABELS[options['brush']]}, {options['strokes']:,} strokes"


class Driver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.result = {"events": [], "stalls": {}, "layer_stalls": {}, "previews": [], "clicks": {}}
        self.doc = None
        self.poll = None
        self.heartbeat = None
        self.last_beat = None
        self.phase = None  # the stall measurement under way, or None
        self.layers_changed = False  # a queue tick added or removed a preview layer since the last beat

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(500, self.start))
        # an exception in a plug-in's slot: Krita would show it in a dialog and wait; fail with it instead
        def excepthook(kind, value, tb):
            text = "".join(traceback.format_exception(kind, value, tb))
            QTimer.singleShot(0, lambda: self.fail("exception: " + text))

        sys.excepthook = excepthook

    def createActions(self, window):
        pass

    def log(self, text):
        line = f"{time.monotonic():.2f} {text}"
        self.result["events"].append(line)
        with open(os.path.join(OUT, "events.log"), "a") as f:  # as it happens: a hung run still tells
            f.write(line + "\n")

    # -- the UI thread's heartbeat: a stall here is a frozen Krita -----------------------------------

    def beat(self):
        now = time.monotonic()
        if self.phase is not None and self.last_beat is not None:
            # Krita draws a layer that was just added or removed on its UI thread, after the tick that
            # asked for it: its own work on the document, held to the limit for results landing.
            stalls = self.result["layer_stalls" if self.layers_changed else "stalls"]
            gap = now - self.last_beat
            stalls[self.phase] = max(stalls.get(self.phase, 0.0), gap)
            if gap > 0.05:  # for a failure's post-mortem: when, next to the other events
                self.log(f"UI thread stalled {gap * 1000:.0f} ms ({self.phase}); layers: {self.names()}")
        self.last_beat, self.layers_changed = now, False

    def watch_stalls(self):
        """For a failure's post-mortem: what every thread was doing while the UI thread stalled."""
        seen = None
        while "ok" not in self.result and "error" not in self.result:
            time.sleep(0.01)
            beat = self.last_beat
            if self.phase is None or beat is None or beat == seen or time.monotonic() - beat < 0.06:
                continue
            seen = beat
            names = {t.ident: t.name for t in threading.enumerate()}
            stacks = [f"{names.get(ident, ident)}: " + " | ".join(line.strip().replace("\n", " ") for line in
                                                                  traceback.format_stack(frame)[-4:])
                      for ident, frame in sys._current_frames().items() if ident != threading.get_ident()]
            self.log(f"UI thread stalling {(time.monotonic() - beat) * 1000:.0f} ms: " + " || ".join(stacks))

    def time_ticks(self, window):
        """How long the docker's queue takes per timer tick (previews, results into layers): its share of
        any stall."""
        docker = next(d for d in window.qwindow().findChildren(QDockWidget) if d.isAncestorOf(self.root))
        queue, tick = docker.queue, docker.queue.tick
        self.result["ticks"] = {}

        def timed():
            previews = len(self.previews()) if self.doc is not None else 0
            started = time.monotonic()
            outcomes = tick()
            took = time.monotonic() - started
            if self.doc is not None and len(self.previews()) != previews:
                self.layers_changed = True
            if self.phase is not None:
                self.result["ticks"][self.phase] = max(self.result["ticks"].get(self.phase, 0.0), took)
            if took > 0.03:
                self.log(f"queue tick took {took * 1000:.0f} ms ({self.phase}): {[o.message for o in outcomes]}")
            return outcomes

        queue.tick = timed  # the docker's timer calls queue.tick()

    def watch_previews(self):
        """Log each preview layer's coming and going (a left-over one fails the test's layer check)."""
        count = len(self.previews())
        if count != self.previews_seen:
            self.log(f"preview layers: {count}")
            self.previews_seen = count

    def measure(self, phase):
        """Start measuring the UI thread's longest stall under `phase` (None: stop), from now."""
        self.phase, self.last_beat = phase, time.monotonic()
        if phase is not None:
            self.result["stalls"].setdefault(phase, 0.0)

    # -- the docker's widgets ---------------------------------------------------------------------------

    def w(self, kind, name):
        widget = self.root.findChild(kind, name)
        if widget is None:
            raise RuntimeError(f"the docker has no {kind.__name__} named {name}")
        return widget

    def click(self, name):
        """Press a docker button; how long the press kept the UI thread is recorded."""
        started = time.monotonic()
        self.w(QPushButton, name).click()
        took = time.monotonic() - started
        self.result["clicks"][name] = max(self.result["clicks"].get(name, 0.0), took)
        self.log(f"clicked {name} ({took * 1000:.0f} ms)")

    def choose(self, name, key):
        box = self.w(QComboBox, name)
        index = box.findData(key)
        if index < 0:
            raise RuntimeError(f"{name} has no {key}")
        box.setCurrentIndex(index)

    def set_paint(self, options, active_layer=False):
        self.w(QTabWidget, "brushwork_tabs").setCurrentIndex(0)
        self.choose("brushwork_brush", options["brush"])
        for key, name in (("strokes", "brushwork_strokes"), ("seed", "brushwork_seed"),
                          ("working_size", "brushwork_working_size"), ("iterations", "brushwork_iterations")):
            self.w(QSpinBox, name).setValue(options[key])
        self.w(QCheckBox, "brushwork_refine").setChecked(options.get("refine", True))
        self.w(QCheckBox, "brushwork_vector_layer").setChecked(options["vector_layer"])
        self.w(QCheckBox, "brushwork_paint_active_layer").setChecked(active_layer)

    def items(self, name):
        """A combo box's (name, label) items."""
        box = self.w(QComboBox, name)
        return [[box.itemData(i), box.itemText(i)] for i in range(box.count())]

    def panel(self, names):
        values = {}
        for name in names:
            widget = self.w(QWidget, name)
            values[name] = widget.value() if isinstance(widget, (QSpinBox, QDoubleSpinBox)) else \
                widget.currentData() if isinstance(widget, QComboBox) else \
                widget.isChecked() if isinstance(widget, QCheckBox) else widget.text()
        return values

    def queue_rows(self):
        jobs = self.w(QListWidget, "brushwork_queue")
        return [jobs.item(i).text() for i in range(jobs.count())]

    def names(self):
        return [node.name() for node in self.doc.topLevelNodes()]

    def results(self):
        """The top-level groups that hold a job's result (a running job's group holds its preview)."""
        return [node.name() for node in self.doc.topLevelNodes() if node.type() == "grouplayer"
                and any(child.name() in RESULT_LAYERS for child in node.childNodes())]

    def previews(self):
        return [child for node in self.doc.topLevelNodes() if node.type() == "grouplayer"
                for child in node.childNodes() if child.name() == PREVIEW]

    def preview_node(self):
        return next(iter(self.previews()), None)

    # -- steps ----------------------------------------------------------------------------------------

    def start(self):
        try:
            app = Krita.instance()
            self.doc = app.openDocument(CONF["image"])
            window = app.activeWindow()
            window.addView(self.doc)  # vector layers need a view
            x, y, w, h = CONF["selection"]
            selection = Selection()
            selection.select(x, y, w, h, 255)
            self.doc.setSelection(selection)
            # a hidden green layer: "Active layer only" paints it, the merged image does not show it
            green = self.doc.createNode("green", "paintlayer")
            self.doc.rootNode().addChildNode(green, None)
            green.setPixelData(QByteArray(bytes([40, 200, 30, 255]) * (self.doc.width() * self.doc.height())),
                               0, 0, self.doc.width(), self.doc.height())
            green.setVisible(False)
            self.doc.refreshProjection()
            self.log("document open")
            # whatever happens, end the run (with what was seen) before the test's own timeout
            QTimer.singleShot(int(CONF["timeout"] * 1000), lambda: self.fail("watchdog: the run took too long"))
            self.heartbeat = QTimer()
            self.heartbeat.setTimerType(Qt.PreciseTimer)
            self.heartbeat.timeout.connect(self.beat)
            self.heartbeat.start(20)
            threading.Thread(target=self.watch_stalls, daemon=True).start()
            self.previews_seen = 0
            self.preview_watch = QTimer()
            self.preview_watch.timeout.connect(self.watch_previews)
            self.preview_watch.start(100)

            # the menu actions show the docker, on the panel each names
            actions = {}
            for name in ("brushwork_paint", "brushwork_stylize"):
                action = app.action(name)
                if action is None:
                    raise RuntimeError(f"the brushwork plug-in did not register {name}")
                self.log(f"triggering {name}")
                action.trigger()
                root = window.qwindow().findChild(QWidget, "brushwork_root")
                docks = [d for d in window.qwindow().findChildren(QDockWidget)
                         if root is not None and d.isAncestorOf(root)]
                actions[name] = {"text": action.text(), "docker_visible": bool(docks) and docks[0].isVisible(),
                                 "docker_title": docks[0].windowTitle() if docks else None,
                                 "tab": root.findChild(QTabWidget, "brushwork_tabs").currentIndex() if root else None}
            self.result["actions"] = actions
            self.root = window.qwindow().findChild(QWidget, "brushwork_root")
            self.time_ticks(window)
            self.result["fresh"] = {
                "paint_preset": self.w(QComboBox, "brushwork_paint_preset").currentData(),
                "paint_estimate": self.w(QLabel, "brushwork_paint_estimate").text(),
                "method_help": self.w(QLabel, "brushwork_method_help").text(),
                "alpha": self.w(QDoubleSpinBox, "brushwork_alpha").value(),
                "iterations": self.w(QSpinBox, "brushwork_iterations").value(),
                "iterations_text": self.w(QSpinBox, "brushwork_iterations").text(),
                "brushes": self.items("brushwork_brush"), "methods": self.items("brushwork_method"),
                "devices": self.items("brushwork_device"),
                "device": self.w(QComboBox, "brushwork_device").currentData(),
                "opaque": self.w(QCheckBox, "brushwork_paint_opaque").text()}
            self.choose("brushwork_device", "cpu")  # remembered, and sent with every job
            self.choose("brushwork_paint_preset", "Draft")
            self.result["draft"] = self.panel(["brushwork_strokes", "brushwork_working_size", "brushwork_refine",
                                               "brushwork_paint_estimate"])
            # Krita's own stalls while it finishes starting up, then with nothing to do: for comparison
            # (the test only holds brushwork's phases to the limit)
            self.measure("krita_starting")
            QTimer.singleShot(CONF["settle_ms"] * 2, lambda: self.measure("krita_idle"))
            QTimer.singleShot(CONF["settle_ms"] * 3, self.hung)
        except Exception:
            self.fail(traceback.format_exc())

    def wait(self, done, then, what, interval=50):
        """Call `then` once `done()` is true; fail after the timeout or on an error shown in the docker."""
        started = time.monotonic()

        def check():
            try:
                message = self.w(QLabel, "brushwork_message")
                if message.styleSheet() and message.text() and not getattr(self, "expect_error", False):
                    self.fail("the docker says: " + message.text())
                    return
                if done():
                    self.poll.stop()
                    self.log(f"{what} after {time.monotonic() - started:.1f} s")
                    then()
                elif time.monotonic() - started > CONF["timeout"]:
                    self.fail(f"no {what} after {CONF['timeout']} s; layers: {self.names()}; "
                              f"queue: {self.queue_rows()}")
            except Exception:
                self.fail(traceback.format_exc())

        if self.poll is not None:
            self.poll.stop()
        self.poll = QTimer()
        self.poll.timeout.connect(check)
        self.poll.start(interval)

    # 1. a server that hangs mid-job: Cancel returns at once, the UI keeps beating ---------------------

    def hung(self):
        self.set_paint(CONF["hung"])
        self.layers_before = self.names()
        self.measure("hung_job")
        self.click("brushwork_paint_run")
        self.result["saved_paint"] = json.loads(Krita.instance().readSetting("brushwork", "PaintOptions", "{}"))
        self.result["saved_engine"] = json.loads(Krita.instance().readSetting("brushwork", "EngineSettings", "{}"))
        # submitted to the stand-in, which now holds its status requests
        self.wait(lambda: self.queue_rows() and self.queue_rows()[0].endswith("· queued"), self.hung_cancel,
                  "hung job submitted")

    def hung_cancel(self):
        self.measure("hung_cancel")
        self.click("brushwork_cancel")
        self.result["hung"] = {"queue_after_click": self.queue_rows(),
                               "message": self.w(QLabel, "brushwork_message").text()}
        QTimer.singleShot(CONF["hung_watch_ms"], self.hung_done)

    def hung_done(self):
        try:
            self.result["hung"]["layers_added"] = [n for n in self.names() if n not in self.layers_before]
            self.measure(None)
            os.remove(CONF["state_file"])  # as a dying server does: the stand-in closes, the bridge starts a real one
            self.log("hung server's state file removed")
            self.paints()
        except Exception:
            self.fail(traceback.format_exc())

    # 2. Paint with every brush kind, all queued at once ----------------------------------------------

    def paints(self):
        self.measure("paint")
        for options in CONF["paints"]:
            self.set_paint(options)
            self.click("brushwork_paint_run")
        self.result["queued"] = self.queue_rows()
        titles = [paint_title(options) for options in CONF["paints"]]

        def done():
            self.note_preview()  # if any: these short jobs may end before the server sends a preview
            return all(title in self.results() for title in titles)

        self.wait(done, lambda: QTimer.singleShot(CONF["settle_ms"], self.after_paints), "paint groups", interval=100)

    def note_preview(self):
        """The preview layer's extent, if there is one with pixels (Krita takes them in a moment after
        the layer is added). True when there is."""
        node = self.preview_node()
        if node is None:
            return False
        b = node.bounds()
        bounds = [b.x(), b.y(), b.width(), b.height()]
        if b.width() and (not self.result["previews"] or self.result["previews"][-1] != bounds):
            self.result["previews"].append(bounds)
        return bool(b.width())

    def save(self, node, file):
        with open(os.path.join(OUT, file), "wb") as f:
            f.write(bytes(node.projectionPixelData(0, 0, self.doc.width(), self.doc.height())))

    def group(self, title):
        return next(node for node in self.doc.topLevelNodes() if node.name() == title)

    def record_group(self, title):
        children = self.group(title).childNodes()  # bottom to top
        self.result.setdefault("groups", {})[title] = [[n.name(), n.type()] for n in children]
        return children

    def after_paints(self):
        try:
            self.measure(None)
            for options in CONF["paints"]:
                for node in self.record_group(paint_title(options)):
                    self.save(node, f"{options['brush']}.{node.type()}.bgra")
            self.result["after_paints"] = {
                "paint_estimate": self.w(QLabel, "brushwork_paint_estimate").text(),
                "history": self.w(QListWidget, "brushwork_history").count(),
                "preview_left": self.preview_node() is not None}
            self.stylize()
        except Exception:
            self.fail(traceback.format_exc())

    # 3. Stylize, then apply that result again from the history -----------------------------------------

    def stylize(self):
        options = CONF["stylize"]
        self.w(QTabWidget, "brushwork_tabs").setCurrentIndex(1)
        self.w(QLineEdit, "brushwork_style").setText(options["style"])
        self.choose("brushwork_method", options["method"])
        self.w(QDoubleSpinBox, "brushwork_alpha").setValue(options["alpha"])
        self.w(QCheckBox, "brushwork_preserve_color").setChecked(options["preserve_color"])
        self.result["stylize_panel"] = self.panel(["brushwork_style", "brushwork_method", "brushwork_method_help",
                                                   "brushwork_stylize_estimate"])
        self.measure("stylize")
        self.click("brushwork_stylize_run")
        title = CONF["stylize_title"]
        self.wait(lambda: title in self.results(), lambda: QTimer.singleShot(300, self.after_stylize), "stylized group")

    def after_stylize(self):
        try:
            self.measure(None)
            title = CONF["stylize_title"]
            self.save(self.record_group(title)[0], "stylized.bgra")
            self.w(QListWidget, "brushwork_history").setCurrentRow(0)  # the newest: this one
            self.click("brushwork_reapply")
            again = title + " (2)"
            self.wait(lambda: again in self.results(), lambda: self.after_reapply(again), "re-applied group")
        except Exception:
            self.fail(traceback.format_exc())

    def after_reapply(self, title):
        try:
            self.save(self.record_group(title)[0], "reapplied.bgra")
            self.trained()
        except Exception:
            self.fail(traceback.format_exc())

    # 3b. Stylize with a trained style (the Model picker) and no style image ------------------------------

    def trained(self):
        self.w(QLineEdit, "brushwork_style").setText("")
        combo = self.w(QComboBox, "brushwork_model_choice")
        self.result["trained_styles"] = [combo.itemText(i) for i in range(combo.count())]
        combo.setEditText(CONF["trained"])
        self.measure("trained")
        self.click("brushwork_stylize_run")
        title = CONF["trained_title"]
        self.wait(lambda: title in self.results(), lambda: QTimer.singleShot(300, self.after_trained), "trained group")

    def after_trained(self):
        try:
            self.measure(None)
            self.save(self.record_group(CONF["trained_title"])[0], "trained.bgra")
            self.w(QComboBox, "brushwork_model_choice").setEditText("")
            self.long_job()
        except Exception:
            self.fail(traceback.format_exc())

    # 4. a long job on the real server, cancelled once its preview is on the canvas ------------------------

    def long_job(self):
        self.set_paint(CONF["cancel"])
        self.layers_before = self.names()
        self.measure("long_job")
        self.click("brushwork_paint_run")
        self.wait(lambda: self.note_preview() and "%" in "".join(self.queue_rows()), self.cancel_long,
                  "preview of the long job", interval=100)

    def cancel_long(self):
        self.measure("long_cancel")
        self.click("brushwork_cancel")
        self.result["cancel"] = {"preview_after_click": self.preview_node() is not None,
                                 "queue_after_click": self.queue_rows()}
        QTimer.singleShot(1500, self.after_cancel)

    def after_cancel(self):
        try:
            self.measure(None)
            self.result["cancel"]["layers_added"] = [n for n in self.names() if n not in self.layers_before]
            # 5. a 16-bit document (Krita converts a copy; the document stays 16-bit)
            self.doc.setColorSpace("RGBA", "U16", "")
            self.doc.waitForDone()
            QTimer.singleShot(1000, self.deep)  # Krita redraws the converted image meanwhile
        except Exception:
            self.fail(traceback.format_exc())

    def deep(self):
        try:
            options = CONF["deep"]
            self.set_paint(options)
            self.measure("deep")  # the click reads the image through a copy Krita converts
            self.click("brushwork_paint_run")
            title = paint_title(options) + " (2)"  # the same job as before: its group gets a new name
            self.wait(lambda: title in self.results(), lambda: self.after_deep(title), "16-bit group")
        except Exception:
            self.fail(traceback.format_exc())

    def after_deep(self, title):
        try:
            self.measure(None)
            painting = self.record_group(title)[0]
            self.result["deep"] = {"document": [self.doc.colorModel(), self.doc.colorDepth()],
                                   "layer": [painting.colorModel(), painting.colorDepth()]}
            self.save(painting, "deep.bgra")
            green = next(node for node in self.doc.topLevelNodes() if node.name() == "green")
            self.doc.setActiveNode(green)
            self.wait(lambda: self.doc.activeNode() is not None and self.doc.activeNode().name() == "green",
                      self.active_layer, "green layer active")
        except Exception:
            self.fail(traceback.format_exc())

    def active_layer(self):
        options = CONF["deep"]
        self.set_paint(options, active_layer=True)
        self.click("brushwork_paint_run")
        title = paint_title(options) + " (3)"
        self.wait(lambda: title in self.results(), lambda: QTimer.singleShot(300, lambda: self.after_active(title)),
                  "active-layer group")

    def after_active(self, title):
        try:
            self.save(self.record_group(title)[0], "active.bgra")
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
            self.preview_watch.stop()
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
