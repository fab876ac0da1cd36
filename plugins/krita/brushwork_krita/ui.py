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
from .bridge_client import BridgeError, Choice, EngineOptions, Setting
from .model import (
    CUSTOM,
    EngineSettings,
    PaintOptions,
    Settings,
    StylizeOptions,
    apply_preset,
    defaults,
    device_setting,
    empty_options,
    engine_options,
    estimate_paint,
    estimate_stylize,
    estimate_text,
    extra_settings,
    fit,
    follow_choices,
    preset_of,
    presets,
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


SPIN_LIMIT = 2**31 - 1  # QSpinBox's own limit: for a field the engine gives no bound


def _spin(name: str, step: int = 1) -> QSpinBox:
    box = _named(QSpinBox(), name)
    box.setSingleStep(step)
    return box


def _fill(box: QComboBox, choices: list[Choice]) -> None:
    """A combo box showing labels (with their help as tooltips), holding names (itemData); the
    current name stays chosen if it is still there."""
    current = box.currentData()
    box.blockSignals(True)
    try:
        box.clear()
        for choice in choices:
            box.addItem(choice.label, choice.name)
            if choice.help:
                box.setItemData(box.count() - 1, choice.help, Qt.ToolTipRole)
        _select(box, current)
    finally:
        box.blockSignals(False)


def _select(box: QComboBox, key) -> None:
    index = box.findData(key)
    if index >= 0:
        box.setCurrentIndex(index)


def _describe(widget, setting: Setting | None, label: QLabel | None = None) -> None:
    """A widget's label, help and range from the engine's field; a field the engine lacks is disabled."""
    widget.setEnabled(setting is not None)
    if setting is None:
        return
    if label is not None:
        label.setText(setting.label or setting.name)
    elif isinstance(widget, QCheckBox) and setting.type == "bool":
        widget.setText(setting.label or setting.name)
    widget.setToolTip(setting.help)
    if isinstance(widget, QSpinBox):
        widget.setRange(int(setting.min) if setting.min is not None else -SPIN_LIMIT,
                        int(setting.max) if setting.max is not None else SPIN_LIMIT)
    elif isinstance(widget, QDoubleSpinBox):
        widget.setRange(setting.min if setting.min is not None else -1e9,
                        setting.max if setting.max is not None else 1e9)


class ExtraSettings(QWidget):
    """Plain widgets for the engine's editor settings a panel has no widget of its own for
    (model.extra_settings): rebuilt whenever the engine's options change."""

    def __init__(self, prefix: str, on_change) -> None:
        super().__init__()
        self.prefix, self.on_change = prefix, on_change
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.widgets: dict[str, QWidget] = {}
        self.engine = empty_options()
        self.settings: list[Setting] = []

    def rebuild(self, engine: EngineOptions, section: str) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.engine, self.settings, self.widgets = engine, extra_settings(engine, section), {}
        for setting in self.settings:
            widget = self._widget(setting)
            _named(widget, f"brushwork_{self.prefix}_{setting.name}", setting.help)
            self.widgets[setting.name] = widget
            if isinstance(widget, QCheckBox):
                self.form.addRow(widget)
            else:
                self.form.addRow(setting.label or setting.name, widget)
        self.fill({})

    def _widget(self, setting: Setting) -> QWidget:
        if setting.type == "bool":
            box = QCheckBox(setting.label or setting.name)
            box.toggled.connect(self.on_change)
            return box
        if setting.type in ("int", "float"):
            spin = QSpinBox() if setting.type == "int" else QDoubleSpinBox()
            _describe(spin, setting)
            spin.valueChanged.connect(self.on_change)
            return spin
        if setting.type == "str" and setting.name == "model":
            return self._style_picker()
        if setting.type == "str":
            line = QLineEdit()
            line.textChanged.connect(self.on_change)
            return line
        combo = QComboBox()
        _fill(combo, self.engine.choices(setting))
        combo.currentIndexChanged.connect(self.on_change)
        return combo

    def _style_picker(self) -> QWidget:
        """The trained style (stylize's `model`): the engine's styles by name (its options document lists
        the shipped and the user's), or any .pt file through Browse…; empty = none."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        combo = _named(QComboBox(), "brushwork_model_choice")
        combo.setEditable(True)
        combo.addItem("")
        for style in self.engine.styles():
            combo.addItem(style.name)
            combo.setItemData(combo.count() - 1, style.help, Qt.ToolTipRole)
        combo.editTextChanged.connect(self.on_change)
        browse = _named(QPushButton("Browse…"), "brushwork_model_browse")

        def pick() -> None:
            path, _ = QFileDialog.getOpenFileName(row, "Trained style", combo.currentText(),
                                                  "Trained styles (*.pt)")
            if path:
                combo.setEditText(path)

        browse.clicked.connect(pick)
        layout.addWidget(combo)
        layout.addWidget(browse)
        row.combo = combo  # type: ignore[attr-defined]  # what fill() and values() read
        return row

    def fill(self, values: dict) -> None:
        """Show `values` (a missing one: the engine's default)."""
        for setting in self.settings:
            widget = self.widgets[setting.name]
            value = values.get(setting.name, self.engine.default(setting))
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                widget.setValue(value)
            elif isinstance(widget, QLineEdit):
                widget.setText(value or "")
            elif hasattr(widget, "combo"):  # the trained-style picker
                widget.combo.setEditText(value or "")
            else:
                _select(widget, value)

    def values(self) -> dict:
        values = {}
        for name, widget in self.widgets.items():
            if isinstance(widget, QCheckBox):
                values[name] = widget.isChecked()
            elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                values[name] = widget.value()
            elif isinstance(widget, QLineEdit):
                values[name] = widget.text()
            elif hasattr(widget, "combo"):  # the trained-style picker
                values[name] = widget.combo.currentText().strip()
            else:
                values[name] = widget.currentData()
        return values


def _browse_style(parent: QWidget, field: QLineEdit) -> None:
    """A file dialog for a style image; the chosen path goes into `field`."""
    path, _ = QFileDialog.getOpenFileName(parent, "Style image", field.text(),
                                          "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
    if path:
        field.setText(path)


class Panel(QWidget):
    """A form of options with a preset chooser, an estimated time and a run button. Subclasses give
    the fields, `options()`, `fill()` and `use_engine()` (choices, labels, help and ranges from the
    engine's options); changing a field shows which preset (or Custom) the values are, choosing a
    preset sets its values."""

    def __init__(self, prefix: str, run_text: str, engine: EngineOptions) -> None:
        super().__init__()
        self.engine, self.prefix = engine, prefix
        self.setObjectName(f"brushwork_{prefix}_panel")
        self.form = QFormLayout(self)
        self.preset = _named(QComboBox(), f"brushwork_{prefix}_preset",
                             "Draft: a quick look. Balanced: a good result in minutes. Final: the finest, slowest.")
        self.estimate = _named(QLabel(), f"brushwork_{prefix}_estimate")
        self.estimate.setWordWrap(True)
        self.run = _named(QPushButton(run_text), f"brushwork_{prefix}_run")
        self.form.addRow("Preset", self.preset)
        self.form.addRow(self.estimate)
        self._updating = False
        self.estimator = lambda options: ""  # set by the docker: options -> the estimate's text
        self.preset.currentIndexChanged.connect(self._preset_chosen)

    def add_rows(self, rows) -> dict[QWidget, QLabel]:
        """(labelled, widget) rows; a labelled row's label is the engine's (see `describe`), the others'
        widgets say what they are. Returns the labels."""
        labels = {}
        for labelled, widget in rows:
            if labelled:
                labels[widget] = QLabel()
                self.form.addRow(labels[widget], widget)
            else:
                self.form.addRow(widget)
        return labels

    def finish_form(self) -> None:
        self.extras = ExtraSettings(self.prefix, self.changed)
        self.form.addRow(self.extras)
        self.form.addRow(self.run)
        for child in self.findChildren((QSpinBox, QDoubleSpinBox)):
            child.valueChanged.connect(self.changed)
        for child in self.findChildren(QComboBox):
            if child is not self.preset:
                child.currentIndexChanged.connect(self.changed)
        for child in self.findChildren(QCheckBox):
            child.toggled.connect(self.changed)

    def use_engine(self, engine: EngineOptions) -> None:
        """The engine's choices, labels, help and ranges; the values stay where the engine takes them."""
        options = self.options()
        self.engine = engine
        self._updating = True
        try:
            _fill(self.preset, [Choice(name, name) for name in (*presets(options, engine), CUSTOM)])
            self.describe(engine)
            self.extras.rebuild(engine, self.prefix)
        finally:
            self._updating = False
        self.set_options(fit(options, engine))

    def describe(self, engine: EngineOptions) -> None:
        raise NotImplementedError

    def _preset_chosen(self) -> None:
        name = self.preset.currentData()
        if self._updating or name == CUSTOM:
            return
        self.set_options(apply_preset(self.options(), name, self.engine))

    def changed(self) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            options = self.options()
            _select(self.preset, preset_of(options, self.engine))
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
    def __init__(self, options: PaintOptions, engine: EngineOptions) -> None:
        super().__init__("paint", "Paint", engine)
        self.brush = _named(QComboBox(), "brushwork_brush")
        self.strokes = _spin("brushwork_strokes")
        self.seed = _spin("brushwork_seed")
        self.working_size = _spin("brushwork_working_size", 64)
        self.iterations = _spin("brushwork_iterations")
        self.refine = _named(QCheckBox("Refine all strokes together at the end"), "brushwork_refine")
        self.vector = _named(QCheckBox("Also add the strokes as a vector layer"), "brushwork_vector_layer",
                             "Editable shapes above the painting.")
        self.active_layer = _named(QCheckBox("Active layer only"), "brushwork_paint_active_layer",
                                   "Paint the active layer's own pixels instead of the whole visible image.")
        # An optional style image: the painting takes on its style as the style mode says.
        row = QHBoxLayout()
        self.style = _named(QLineEdit(), "brushwork_paint_style",
                            "Optional: a picture whose style the painting takes on (empty: none).")
        browse = _named(QPushButton("Browse…"), "brushwork_paint_style_browse")
        browse.clicked.connect(lambda: _browse_style(self, self.style))
        row.addWidget(self.style)
        row.addWidget(browse)
        self.style_mode = _named(QComboBox(), "brushwork_style_mode")
        self.style_weight = _named(QDoubleSpinBox(), "brushwork_style_weight")
        self.style_weight.setSingleStep(0.25)
        self.preserve = _named(QCheckBox(), "brushwork_paint_preserve_color")  # its label: the engine's
        self.labels = self.add_rows(((True, self.brush), (True, self.strokes), (True, self.seed),
                                     (True, self.working_size), (True, self.iterations), (False, self.refine),
                                     (False, self.vector), (False, self.active_layer)))
        self.form.addRow("Style image", row)
        self.labels.update(self.add_rows(((True, self.style_mode), (True, self.style_weight),
                                          (False, self.preserve))))
        self.style.textChanged.connect(self._style_changed)
        self.finish_form()
        self.use_engine(engine)
        self.set_options(options)

    def describe(self, engine: EngineOptions) -> None:
        brushes = engine.find("paint", "brushes")
        _fill(self.brush, engine.choices(brushes) if brushes is not None else [])
        _describe(self.brush, brushes, self.labels[self.brush])
        for name in ("strokes", "seed", "working_size", "iterations"):
            widget = getattr(self, name)
            _describe(widget, engine.field("paint", name), self.labels[widget])
        refine = engine.field("paint", "refine_iterations")
        _describe(self.refine, refine)
        if refine is not None:
            self.refine.setToolTip(f"{refine.help} Off: no refinement (a draft).".strip())
        mode = engine.field("paint", "style_mode")
        _fill(self.style_mode, engine.choices(mode) if mode is not None else [])
        _describe(self.style_mode, mode, self.labels[self.style_mode])
        _describe(self.style_weight, engine.field("paint", "style_weight"), self.labels[self.style_weight])
        _describe(self.preserve, engine.field("paint", "preserve_color"))
        self._style_changed()

    def _style_changed(self) -> None:
        """The style settings apply with a style image only (and where the engine has them)."""
        chosen = bool(self.style.text().strip())
        for name, widget in (("style_mode", self.style_mode), ("style_weight", self.style_weight),
                             ("preserve_color", self.preserve)):
            widget.setEnabled(chosen and self.engine.field("paint", name) is not None)

    def fill(self, o: PaintOptions) -> None:
        _select(self.brush, o.brush)
        self.strokes.setValue(o.strokes)
        self.seed.setValue(o.seed)
        self.working_size.setValue(o.working_size)
        self.iterations.setValue(o.iterations)
        self.refine.setChecked(o.refine)
        self.vector.setChecked(o.vector_layer)
        self.active_layer.setChecked(o.active_layer)
        self.extras.fill(o.extra)
        self.style.setText(o.style)
        _select(self.style_mode, o.style_mode)
        self.style_weight.setValue(o.style_weight)
        self.preserve.setChecked(o.preserve_color)

    def options(self) -> PaintOptions:
        return PaintOptions(self.brush.currentData() or "", self.strokes.value(), self.seed.value(),
                            self.working_size.value(), self.iterations.value(), self.vector.isChecked(),
                            self.refine.isChecked(), self.active_layer.isChecked(), self.extras.values(),
                            self.style.text().strip(), self.style_mode.currentData() or "",
                            self.style_weight.value(), self.preserve.isChecked())


class StylizePanel(Panel):
    def __init__(self, options: StylizeOptions, engine: EngineOptions) -> None:
        super().__init__("stylize", "Stylize", engine)
        row = QHBoxLayout()
        self.style = _named(QLineEdit(), "brushwork_style",
                            "The picture whose style is applied (none needed with a trained style: Model).")
        browse = _named(QPushButton("Browse…"), "brushwork_style_browse")
        browse.clicked.connect(self._browse)
        row.addWidget(self.style)
        row.addWidget(browse)
        self.method = _named(QComboBox(), "brushwork_method")
        self.method_help = _named(QLabel(), "brushwork_method_help")
        self.method_help.setWordWrap(True)
        self.alpha = _named(QDoubleSpinBox(), "brushwork_alpha")
        self.alpha.setSingleStep(0.05)
        self.preserve = _named(QCheckBox(), "brushwork_preserve_color")  # its label: the engine's
        self.style_size = _spin("brushwork_style_size", 64)
        self.steps = _spin("brushwork_steps")
        self.active_layer = _named(QCheckBox("Active layer only"), "brushwork_stylize_active_layer",
                                   "Stylize the active layer's own pixels instead of the whole visible image.")
        self.form.addRow("Style image", row)
        self.labels = self.add_rows(((True, self.method), (False, self.method_help), (True, self.alpha),
                                     (False, self.preserve), (True, self.style_size), (True, self.steps),
                                     (False, self.active_layer)))
        self.finish_form()
        self.method.currentIndexChanged.connect(self._method_changed)
        self.method.activated.connect(self._method_picked)  # the user's own pick, not a programmatic one
        self.use_engine(engine)
        self.set_options(options)
        self._method_changed()

    def describe(self, engine: EngineOptions) -> None:
        methods = engine.find("stylize", "methods")
        _fill(self.method, engine.choices(methods) if methods is not None else [])
        _describe(self.method, methods, self.labels[self.method])
        for name in ("alpha", "style_size", "steps"):
            widget = getattr(self, name)
            _describe(widget, engine.field("stylize", name), self.labels[widget])
        _describe(self.preserve, engine.field("stylize", "preserve_color"))
        self._method_changed()

    def _method_changed(self) -> None:
        methods = self.engine.find("stylize", "methods")
        method = self.method.currentData()
        choice = self.engine.choice(methods, method) if methods is not None else None
        self.method_help.setText(f"{choice.label}: {choice.help}" if choice and choice.help else "")
        self.steps.setEnabled(method == "gatys" and self.engine.field("stylize", "steps") is not None)

    def _method_picked(self) -> None:
        """A method the user picks brings its own strength (e.g. WCT's 0.6)."""
        self.alpha.setValue(follow_choices(self.options(), self.engine).alpha)

    def _browse(self) -> None:
        _browse_style(self, self.style)

    def fill(self, o: StylizeOptions) -> None:
        self.style.setText(o.style)
        _select(self.method, o.method)
        self.alpha.setValue(o.alpha)
        self.preserve.setChecked(o.preserve_color)
        self.style_size.setValue(o.style_size)
        self.steps.setValue(o.steps)
        self.active_layer.setChecked(o.active_layer)
        self.extras.fill(o.extra)

    def options(self) -> StylizeOptions:
        return StylizeOptions(self.style.text().strip(), self.method.currentData() or "", self.alpha.value(),
                              self.preserve.isChecked(), self.active_layer.isChecked(), self.style_size.value(),
                              self.steps.value(), self.extras.values())


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
        # the engine's options: those it last sent, else the snapshot shipped with the plug-in
        known = engine_options(self.settings, Path(__file__).parent)
        self.engine_options = known or empty_options()
        self.paint = PaintPanel(self._load(PaintOptions), self.engine_options)
        self.stylize = StylizePanel(self._load(StylizeOptions), self.engine_options)
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
        self.engine = EngineBox(self.settings, self.engine_options, self.use_engine_options)
        layout.addWidget(self.engine)
        self.tabs.setEnabled(known is not None)
        if known is None:
            self.say("brushwork does not know its engine yet: set it up below (or use an existing Python)")
        self._options_from = 0  # the bridge generation whose server's options the panels show
        self._options_pending: Future | None = None
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

    def _load(self, cls):
        """The panel's last values, where the engine still takes them."""
        return fit(self.settings.load(cls, defaults(cls, self.engine_options)), self.engine_options)

    def use_engine_options(self, options: EngineOptions) -> None:
        """Options the engine sent: remembered for the next start, and the panels rebuilt from them."""
        self.tabs.setEnabled(True)
        if options.document == self.engine_options.document:
            return
        self.engine_options = options
        self.settings.save_engine_options(options)
        self.paint.use_engine(options)
        self.stylize.use_engine(options)
        self.engine.use_engine(options)

    def _follow_server_options(self) -> None:
        """Once per server the bridge connects to, ask it for its options (in a thread)."""
        pending = self._options_pending
        if pending is not None and pending.done():
            self._options_pending = None
            try:
                options = pending.result()
            except BridgeError:
                options = None
            if options is not None:
                self.use_engine_options(options)
        bridge = jobs.bridge()
        if self._options_pending is None and bridge.connected and bridge.generation != self._options_from:
            self._options_from = bridge.generation
            self._options_pending = self.engine.pool.submit(jobs.server_options)

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
        problem = options.check()
        if problem:
            self.say(problem, error=True)
            return
        self.settings.save(options)
        self._add(lambda doc: jobs.start_paint(doc, options, self.engine_options, self.engine.device(),
                                               load_style_png))

    def start_stylize(self) -> None:
        options = self.stylize.options()
        problem = options.check()
        if problem:
            self.say(problem, error=True)
            return
        self.settings.save(options)
        self._add(lambda doc: jobs.start_stylize(doc, options, load_style_png, self.engine_options,
                                                 self.engine.device()))

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
        self._follow_server_options()
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

    def __init__(self, settings: Settings, options: EngineOptions, on_options) -> None:
        super().__init__("Engine")
        self.settings = settings
        self.on_options = on_options  # called (on the UI thread) with the options an engine sent
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
        devices = QFormLayout()
        self.device_label = QLabel()  # the engine names it (use_engine)
        self.devices = _named(QComboBox(), "brushwork_device")
        devices.addRow(self.device_label, self.devices)
        column.addLayout(devices)
        self.use_engine(options)
        _select(self.devices, settings.load(EngineSettings).device)
        self.devices.currentIndexChanged.connect(self._remember)
        self.running: engine.EngineSetup | None = None
        self.checking: Future | None = None  # (python, problem) of the last check
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="brushwork-engine")
        self.planning: Future | None = self.pool.submit(self._plan)  # this machine's plan, or an EngineError
        self._check(settings.load(EngineSettings).python or jobs.bridge().python or "")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)

    def use_engine(self, options: EngineOptions) -> None:
        """The devices the engine offers (those its server's machine lacks say so), its default first chosen."""
        setting = device_setting(options)
        _fill(self.devices, options.choices(setting) if setting is not None else [])
        _describe(self.devices, setting, self.device_label)
        if setting is not None and self.devices.currentData() is None:
            _select(self.devices, options.default(setting))

    def device(self) -> str:
        """The device jobs run on ("": the engine's default)."""
        return self.devices.currentData() or ""

    def _remember(self) -> None:
        self.settings.save(EngineSettings(self.settings.load(EngineSettings).python, self.device()))

    def _plan(self) -> engine.EnginePlan:
        return engine.plan(self.plugin_folder, gpu=engine.nvidia_gpu())

    def _check(self, python: str) -> None:
        self.checking = self.pool.submit(self._checked, python)

    @staticmethod
    def _checked(python: str) -> tuple[str, str | None, EngineOptions | None]:
        """(python, why it cannot run the engine or None, the options it offers). In a pool thread."""
        if not python:
            return python, "no engine yet: press Set up engine", None
        problem = engine.check_engine(python)
        return python, problem, engine.read_options(python) if problem is None else None

    def _use(self, python: str, options: EngineOptions | None = None) -> None:
        self.settings.save(EngineSettings(python, self.device()))
        jobs.use_engine(python)
        self.status.setText(f"Engine ready: {python}")
        if options is not None:
            self.on_options(options)

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
            python, problem, options = self.checking.result()
            self.checking = None
            if problem is None:
                self._use(python, options)
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
            self.status.setText("Engine: checking the new engine…")
            self._check(str(setup.plan.engine_python))
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
