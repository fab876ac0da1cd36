"""Krita's side of the plug-in: the brushwork docker (Settings ▸ Dockers ▸ brushwork) and the menu
actions that show it.

The docker is not modal: its Paint and Stylize panels add jobs to a queue (jobs.JobQueue) that a
QTimer on the UI thread follows; the user keeps working meanwhile. Nothing here waits on the
network: a job's requests run in their own threads, Cancel tells the server from a thread of its own,
and previews are decoded and scaled off the UI thread. Widgets have objectNames ("brushwork_...")
so the end-to-end test can drive the docker as a user would.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from krita import DockWidget, Extension, Krita
from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, Qt, QTimer
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import document, engine, jobs
from .bridge_client import BridgeError
from .model import (
    BRUSH_LABELS,
    CUSTOM,
    METHOD_HELP,
    METHOD_LABELS,
    PAINTER_ITERATIONS,
    PRESETS,
    EngineSettings,
    PaintOptions,
    Settings,
    StylizeOptions,
    apply_preset,
    estimate_paint,
    estimate_stylize,
    estimate_text,
    preset_of,
    unsupported_krita,
)

DOCKER_ID = "brushwork_docker"
PAINT_ACTION = "brushwork_paint"
STYLIZE_ACTION = "brushwork_stylize"
TICK_MS = 100


def _settings() -> Settings:
    app = Krita.instance()
    return Settings(app.readSetting, app.writeSetting)


def decode_preview(png: bytes, width: int, height: int) -> bytes | None:
    """A server preview (PNG, 256 px) scaled to the job's region, as BGRA8 straight-alpha bytes.
    Runs in a worker thread: QImage (unlike QPixmap) may be used off the UI thread."""
    image = QImage.fromData(png, "PNG")
    if image.isNull():
        return None
    image = image.convertToFormat(QImage.Format_ARGB32).scaled(width, height, Qt.IgnoreAspectRatio,
                                                                 Qt.SmoothTransformation)
    image = image.convertToFormat(QImage.Format_ARGB32)  # 0xAARRGGBB words: B,G,R,A bytes on little-endian
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    data = bytes(bits)
    stride = image.bytesPerLine()
    if stride == width * 4:
        return data
    return b"".join(data[row * stride:row * stride + width * 4] for row in range(height))


def load_style_png(path: str) -> bytes:
    """Any image Qt reads, as PNG bytes (the server takes PNG). Runs in the job's thread."""
    image = QImage(path)
    if image.isNull():
        raise BridgeError(f"cannot read the style image {path}")
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def _named(widget, name: str, tip: str = ""):
    widget.setObjectName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


def _spin(name: str, low: int, high: int, tip: str = "", step: int = 1) -> QSpinBox:
    box = _named(QSpinBox(), name, tip)
    box.setRange(low, high)
    box.setSingleStep(step)
    return box


def _choices(name: str, items: dict[str, str], tips: dict[str, str] | None = None) -> QComboBox:
    """A combo box showing labels, holding keys (itemData)."""
    box = _named(QComboBox(), name)
    for key, label in items.items():
        box.addItem(label, key)
        if tips:
            box.setItemData(box.count() - 1, tips[key], Qt.ToolTipRole)
    return box


def _select(box: QComboBox, key) -> None:
    index = box.findData(key)
    if index >= 0:
        box.setCurrentIndex(index)


class Panel(QWidget):
    """A form of options with a preset chooser, an estimated time and a run button. Subclasses give
    the fields, `options()` and `set_options()`; changing a field shows which preset (or Custom) the
    values are, choosing a preset sets its values."""

    def __init__(self, prefix: str, run_text: str) -> None:
        super().__init__()
        self.setObjectName(f"brushwork_{prefix}_panel")
        self.form = QFormLayout(self)
        self.preset = _choices(f"brushwork_{prefix}_preset", {name: name for name in (*PRESETS, CUSTOM)})
        self.preset.setToolTip("Draft: a quick look. Balanced: a good result in minutes. Final: the finest, slowest.")
        self.estimate = _named(QLabel(), f"brushwork_{prefix}_estimate")
        self.estimate.setWordWrap(True)
        self.run = _named(QPushButton(run_text), f"brushwork_{prefix}_run")
        self.form.addRow("Preset", self.preset)
        self.form.addRow(self.estimate)
        self._updating = False
        self.estimator = lambda options: ""  # set by the docker: options -> the estimate's text
        self.preset.currentIndexChanged.connect(self._preset_chosen)

    def finish_form(self) -> None:
        self.form.addRow(self.run)
        for child in self.findChildren((QSpinBox, QDoubleSpinBox)):
            child.valueChanged.connect(self.changed)
        for child in self.findChildren(QComboBox):
            if child is not self.preset:
                child.currentIndexChanged.connect(self.changed)
        for child in self.findChildren(QCheckBox):
            child.toggled.connect(self.changed)

    def _preset_chosen(self) -> None:
        name = self.preset.currentData()
        if self._updating or name == CUSTOM:
            return
        self.set_options(apply_preset(self.options(), name))

    def changed(self) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            options = self.options()
            _select(self.preset, preset_of(options))
            self.estimate.setText(self.estimator(options))
        finally:
            self._updating = False

    def set_options(self, options) -> None:
        self._updating = True
        try:
            self.fill(options)
        finally:
            self._updating = False
        self.changed()

    def fill(self, options) -> None:
        raise NotImplementedError

    def options(self):
        raise NotImplementedError


class PaintPanel(Panel):
    def __init__(self, options: PaintOptions) -> None:
        super().__init__("paint", "Paint")
        self.brush = _choices("brushwork_brush", BRUSH_LABELS)
        self.strokes = _spin("brushwork_strokes", 1, 20000, "How many strokes the painting has.")
        self.seed = _spin("brushwork_seed", 0, 2**31 - 1, "Same seed and image, same painting.")
        self.working_size = _spin("brushwork_working_size", 64, 4096, "Long side, in pixels, the painter works "
                                  "at; larger is slower and finer.", 64)
        self.iterations = _spin("brushwork_iterations", 1, 10000, "Optimisation steps per level: fewer is faster "
                                "and rougher (the painter's default is 40).")
        self.refine = _named(QCheckBox("Refine all strokes together at the end"), "brushwork_refine",
                             "Closer to the image; off is faster (a draft).")
        self.vector = _named(QCheckBox("Also add the strokes as a vector layer"), "brushwork_vector_layer",
                             "Editable shapes above the painting.")
        self.active_layer = _named(QCheckBox("Active layer only"), "brushwork_paint_active_layer",
                                   "Paint the active layer's own pixels instead of the whole visible image.")
        for label, field in (("Brush", self.brush), ("Strokes", self.strokes), ("Seed", self.seed),
                             ("Working size", self.working_size), ("Steps per level", self.iterations),
                             ("", self.refine), ("", self.vector), ("", self.active_layer)):
            self.form.addRow(label, field) if label else self.form.addRow(field)
        self.finish_form()
        self.set_options(options)

    def fill(self, o: PaintOptions) -> None:
        _select(self.brush, o.brush)
        self.strokes.setValue(o.strokes)
        self.seed.setValue(o.seed)
        self.working_size.setValue(o.working_size)
        self.iterations.setValue(o.iterations or PAINTER_ITERATIONS)  # 0 (older settings): the default
        self.refine.setChecked(o.refine)
        self.vector.setChecked(o.vector_layer)
        self.active_layer.setChecked(o.active_layer)

    def options(self) -> PaintOptions:
        return PaintOptions(self.brush.currentData(), self.strokes.value(), self.seed.value(),
                            self.working_size.value(), self.iterations.value(), self.vector.isChecked(),
                            self.refine.isChecked(), self.active_layer.isChecked())


class StylizePanel(Panel):
    def __init__(self, options: StylizeOptions) -> None:
        super().__init__("stylize", "Stylize")
        row = QHBoxLayout()
        self.style = _named(QLineEdit(), "brushwork_style", "The picture whose style is applied.")
        browse = _named(QPushButton("Browse…"), "brushwork_style_browse")
        browse.clicked.connect(self._browse)
        row.addWidget(self.style)
        row.addWidget(browse)
        self.method = _choices("brushwork_method", METHOD_LABELS, METHOD_HELP)
        self.method_help = _named(QLabel(), "brushwork_method_help")
        self.method_help.setWordWrap(True)
        self.alpha = _named(QDoubleSpinBox(), "brushwork_alpha", "How strongly the style is applied.")
        self.alpha.setRange(0.0, 1.0)
        self.alpha.setSingleStep(0.05)
        self.preserve = _named(QCheckBox("Keep the image's colours"), "brushwork_preserve_color")
        self.style_size = _spin("brushwork_style_size", 32, 4096, "Long side the style image is reduced to: "
                                "smaller is faster, with coarser textures.", 64)
        self.steps = _spin("brushwork_steps", 1, 5000, "Gatys only: optimisation steps.")
        self.active_layer = _named(QCheckBox("Active layer only"), "brushwork_stylize_active_layer",
                                   "Stylize the active layer's own pixels instead of the whole visible image.")
        for label, field in (("Style image", row), ("Method", self.method), ("", self.method_help),
                             ("Strength", self.alpha), ("", self.preserve), ("Style size", self.style_size),
                             ("Gatys steps", self.steps), ("", self.active_layer)):
            self.form.addRow(label, field) if label else self.form.addRow(field)
        self.finish_form()
        self.method.currentIndexChanged.connect(self._method_changed)
        self.set_options(options)
        self._method_changed()

    def _method_changed(self) -> None:
        method = self.method.currentData()
        self.method_help.setText(METHOD_HELP.get(method, ""))
        self.steps.setEnabled(method == "gatys")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style image", self.style.text(),
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
        if path:
            self.style.setText(path)

    def fill(self, o: StylizeOptions) -> None:
        self.style.setText(o.style)
        _select(self.method, o.method)
        self.alpha.setValue(o.alpha)
        self.preserve.setChecked(o.preserve_color)
        self.style_size.setValue(o.style_size)
        self.steps.setValue(o.steps)
        self.active_layer.setChecked(o.active_layer)

    def options(self) -> StylizeOptions:
        return StylizeOptions(self.style.text().strip(), self.method.currentData(), self.alpha.value(),
                              self.preserve.isChecked(), self.active_layer.isChecked(), self.style_size.value(),
                              self.steps.value())


def _document():
    problem = unsupported_krita(Krita.instance().version())
    if problem:
        raise BridgeError(problem)
    doc = document.active_document()
    problem = document.check_document(doc)
    if problem:
        raise BridgeError(problem)
    return doc


class BrushworkDocker(DockWidget):
    """Paint and Stylize panels, the queue (with Cancel) and the history (with Apply again), and the
    engine (set it up, or use an existing Python)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("brushwork")
        self.settings = _settings()
        self.queue = jobs.JobQueue(self.settings, decode_preview)
        root = _named(QWidget(), "brushwork_root")
        layout = QVBoxLayout(root)

        self.tabs = _named(QTabWidget(), "brushwork_tabs")
        self.paint = PaintPanel(self.settings.load(PaintOptions))
        self.stylize = StylizePanel(self.settings.load(StylizeOptions))
        self.paint.estimator = self._paint_estimate
        self.stylize.estimator = self._stylize_estimate
        self.tabs.addTab(self.paint, "Paint")
        self.tabs.addTab(self.stylize, "Stylize")
        self.paint.run.clicked.connect(self.start_paint)
        self.stylize.run.clicked.connect(self.start_stylize)
        layout.addWidget(self.tabs)

        box = QGroupBox("Queue")
        column = QVBoxLayout(box)
        self.jobs_list = _named(QListWidget(), "brushwork_queue", "Jobs waiting or running, oldest first.")
        self.progress = _named(QProgressBar(), "brushwork_progress")
        self.progress.setRange(0, 1000)
        self.cancel = _named(QPushButton("Cancel"), "brushwork_cancel",
                             "Cancel the selected job (the running one when none is selected).")
        self.cancel.clicked.connect(self.cancel_selected)
        for widget in (self.jobs_list, self.progress, self.cancel):
            column.addWidget(widget)
        layout.addWidget(box)

        box = QGroupBox("History")
        column = QVBoxLayout(box)
        self.history_list = _named(QListWidget(), "brushwork_history", "Results of this session, newest first.")
        self.reapply = _named(QPushButton("Apply again"), "brushwork_reapply",
                              "Add the selected result (the newest when none is selected) to the active image.")
        self.reapply.clicked.connect(self.apply_again)
        column.addWidget(self.history_list)
        column.addWidget(self.reapply)
        layout.addWidget(box)

        self.message = _named(QLabel(), "brushwork_message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.engine = EngineBox(self.settings)
        layout.addWidget(self.engine)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(root)
        self.setWidget(scroll)

        self._rows: list = []  # the jobs the queue list shows, in its order
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)
        self.update_estimates()

    # -- Krita -----------------------------------------------------------------------------------

    def canvasChanged(self, canvas) -> None:  # noqa: N802 (Krita's name); another image: its region
        self.update_estimates()

    def show_tab(self, name: str) -> None:
        self.setVisible(True)
        self.raise_()
        self.tabs.setCurrentWidget(self.paint if name == "paint" else self.stylize)

    # -- estimates -------------------------------------------------------------------------------

    def _paint_estimate(self, options: PaintOptions) -> str:
        return estimate_text(estimate_paint(options, self.queue.timings()))

    def _stylize_estimate(self, options: StylizeOptions) -> str:
        doc = document.active_document()
        megapixels = document.region_of(doc).megapixels if doc is not None else 1.0
        return estimate_text(estimate_stylize(options.method, megapixels, self.queue.timings()))

    def update_estimates(self) -> None:
        self.paint.changed()
        self.stylize.changed()

    # -- jobs --------------------------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.message.setText(text)

    def _add(self, make) -> None:
        try:
            doc = _document()
            job = make(doc)
        except BridgeError as exc:
            self.say(str(exc), error=True)
            return
        self.queue.add(job)
        self.say(f"{job.title}: queued")
        self.refresh()

    def start_paint(self) -> None:
        options = self.paint.options()
        self.settings.save(options)
        self._add(lambda doc: jobs.start_paint(doc, options))

    def start_stylize(self) -> None:
        options = self.stylize.options()
        problem = options.check()
        if problem:
            self.say(problem, error=True)
            return
        self.settings.save(options)
        self._add(lambda doc: jobs.start_stylize(doc, options, load_style_png))

    def cancel_selected(self) -> None:
        row = self.jobs_list.currentRow()
        if not self._rows:
            return
        job = self._rows[row] if 0 <= row < len(self._rows) else self._rows[0]
        self.say(self.queue.cancel(job).message)
        self.refresh()

    def apply_again(self) -> None:
        entries = self.queue.history.entries
        if not entries:
            self.say("nothing to apply yet: finished jobs appear in the history", error=True)
            return
        row = self.history_list.currentRow()
        entry = entries[row] if 0 <= row < len(entries) else entries[0]
        try:
            self.queue.reapply(entry, _document())
        except BridgeError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"{entry.title}: applied again")

    def tick(self) -> None:
        outcomes = self.queue.tick()
        for outcome in outcomes:
            self.say(outcome.message, error=outcome.state == "failed")
        if outcomes:
            self.update_estimates()  # a finished job has timed this machine
        self.refresh(history=bool(outcomes))

    def refresh(self, history: bool = False) -> None:
        rows = [job.row() for job in self.queue.jobs]
        if self.queue.jobs != self._rows or rows != [self.jobs_list.item(i).text()
                                                     for i in range(self.jobs_list.count())]:
            selected = self.jobs_list.currentRow()
            self.jobs_list.clear()
            self.jobs_list.addItems(rows)
            if self.queue.jobs == self._rows and 0 <= selected < len(rows):
                self.jobs_list.setCurrentRow(selected)
            self._rows = list(self.queue.jobs)
        running = next((job for job in self.queue.jobs if job.phase == "running"), None)
        self.progress.setValue(int(running.runner.fraction * 1000) if running is not None else 0)
        if history:
            self.history_list.clear()
            self.history_list.addItems([entry.label() for entry in self.queue.history.entries])


class EngineBox(QGroupBox):
    """Which Python runs the engine, and the button that sets one up: an environment in the user's
    data folder with PyTorch (CPU, or CUDA when an NVIDIA GPU is found: the choice is shown first)
    and brushwork (engine.py). Every check and every step runs off the UI thread; a timer shows them."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("Engine")
        self.settings = settings
        self.plugin_folder = Path(__file__).parent
        column = QVBoxLayout(self)
        self.status = _named(QLabel("Engine: checking…"), "brushwork_engine_status")
        self.status.setWordWrap(True)
        self.plan_text = _named(QLabel(""), "brushwork_engine_plan")
        self.plan_text.setWordWrap(True)
        self.bar = _named(QProgressBar(), "brushwork_engine_progress")
        self.bar.setRange(0, 1000)
        self.bar.hide()
        row = QHBoxLayout()
        self.setup = _named(QPushButton("Set up engine"), "brushwork_engine_setup",
                            "Make the engine's own Python environment and install PyTorch and brushwork into it.")
        self.choose = _named(QPushButton("Use an existing Python…"), "brushwork_engine_choose",
                             "Point brushwork at a Python where you installed brushwork yourself.")
        self.setup.clicked.connect(self.start_setup)
        self.choose.clicked.connect(self.choose_python)
        row.addWidget(self.setup)
        row.addWidget(self.choose)
        for widget in (self.status, self.plan_text, self.bar):
            column.addWidget(widget)
        column.addLayout(row)
        self.running: engine.EngineSetup | None = None
        self.checking: Future | None = None  # (python, problem) of the last check
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="brushwork-engine")
        self.planning: Future | None = self.pool.submit(self._plan)  # this machine's plan, or an EngineError
        self._check(settings.load(EngineSettings).python or jobs.bridge().python or "")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)

    def _plan(self) -> engine.EnginePlan:
        return engine.plan(self.plugin_folder, gpu=engine.nvidia_gpu())

    def _check(self, python: str) -> None:
        self.checking = self.pool.submit(lambda: (python, engine.check_engine(python) if python else
                                                  "no engine yet: press Set up engine"))

    def _use(self, python: str) -> None:
        self.settings.save(EngineSettings(python))
        jobs.use_engine(python)
        self.status.setText(f"Engine ready: {python}")

    def start_setup(self) -> None:
        if self.running is not None and not self.running.finished:
            self.running.cancel()  # the button reads "Cancel set-up" while it runs
            return
        if self.planning is None or not self.planning.done():
            self.status.setText("Engine: still looking at this machine; press again in a moment")
            return
        try:
            plan = self.planning.result()
        except engine.EngineError as exc:
            self.status.setText(f"Set-up failed: {exc}")
            return
        self.running = engine.EngineSetup(plan)
        self.running.start()
        self.setup.setText("Cancel set-up")
        self.bar.show()

    def choose_python(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The Python where brushwork is installed", str(Path.home()))
        if path:
            self.status.setText(f"Engine: checking {path}…")
            self._check(path)

    def tick(self) -> None:
        if self.checking is not None and self.checking.done():
            python, problem = self.checking.result()
            self.checking = None
            if problem is None:
                self._use(python)
            elif self.running is None:
                self.status.setText(f"Engine: {problem}")
        if self.planning is not None and self.planning.done() and not self.plan_text.text():
            try:
                plan = self.planning.result()
                self.plan_text.setText(f"Set up engine installs {plan.torch_build} and brushwork into "
                                       f"{plan.folder}, using {plan.python}.")
            except engine.EngineError as exc:
                self.plan_text.setText(str(exc))
        if self.running is None:
            return
        setup = self.running
        self.bar.setValue(int(setup.fraction * 1000))
        if not setup.finished:
            self.status.setText(f"Setting up: {setup.message}…")
            return
        self.running = None
        self.setup.setText("Set up engine")
        self.bar.hide()
        if setup.state == "done":
            self._use(str(setup.plan.engine_python))
        elif setup.state == "failed":
            self.status.setText(f"Set-up failed: {setup.message}")
        else:
            self.status.setText("Engine: set-up cancelled")


def show_docker(tab: str) -> None:
    """The menu actions: show and raise the active window's brushwork docker, on the panel asked for.
    (The Window that createActions was given is deleted after window creation: ask Krita each time.)"""
    window = Krita.instance().activeWindow()
    qwindow = window.qwindow() if window is not None else None
    docks = [d for d in (qwindow.findChildren(QDockWidget) if qwindow is not None else [])
             if isinstance(d, BrushworkDocker)]
    if docks:
        docks[0].show_tab(tab)


class BrushworkExtension(Extension):
    """The menu actions (Tools ▸ Scripts): each shows the docker, on its panel."""

    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:  # noqa: N802 (Krita's name)
        for name, text, tab in ((PAINT_ACTION, "brushwork: Paint with strokes…", "paint"),
                                (STYLIZE_ACTION, "brushwork: Stylize…", "stylize")):
            action = window.createAction(name, text, "tools/scripts")
            action.triggered.connect(lambda _checked=False, tab=tab: show_docker(tab))
