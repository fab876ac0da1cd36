"""Krita's side of the plug-in: the menu actions, the dialogs and the progress dialog.

Nothing here waits on the network: a job's requests (the upload too) run in the JobRunner's own
thread, and a QTimer on the UI thread only copies its progress into the dialog and, at the end, puts
the result into the document (document calls stay on the UI thread).
"""

from __future__ import annotations

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                             QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QProgressBar, QPushButton,
                             QSpinBox, QVBoxLayout, QWidget)

from krita import Extension, Krita

from . import jobs
from .bridge_client import BridgeError
from .model import BRUSHES, METHODS, PaintOptions, Settings, StylizeOptions, unsupported_krita

PAINT_ACTION = "brushwork_paint"
STYLIZE_ACTION = "brushwork_stylize"
TICK_MS = 100


def _settings() -> Settings:
    app = Krita.instance()
    return Settings(app.readSetting, app.writeSetting)


def _window_widget() -> QWidget | None:
    window = Krita.instance().activeWindow()
    return window.qwindow() if window is not None else None


def _error(text: str) -> None:
    QMessageBox.warning(_window_widget(), "brushwork", text)


def _spin(low: int, high: int, value: int, tip: str = "", step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _combo(items, current: str) -> QComboBox:
    box = QComboBox()
    box.addItems(items)
    box.setCurrentText(current)
    return box


def _check(text: str, checked: bool) -> QCheckBox:
    box = QCheckBox(text)
    box.setChecked(checked)
    return box


class OptionsDialog(QDialog):
    """A form of labelled fields with OK / Cancel; OK runs `validate` first."""

    def __init__(self, title: str, rows, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        form = QFormLayout(self)
        for label, field in rows:
            if label:
                form.addRow(label, field)
            else:
                form.addRow(field)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def validate(self) -> str | None:
        return None

    def _accept(self) -> None:
        problem = self.validate()
        if problem:
            QMessageBox.warning(self, "brushwork", problem)
            return
        self.accept()


class PaintDialog(OptionsDialog):
    def __init__(self, options: PaintOptions, parent=None) -> None:
        self.brush = _combo(BRUSHES, options.brush)
        self.strokes = _spin(1, 20000, options.strokes)
        self.seed = _spin(0, 2**31 - 1, options.seed, "Same seed and image, same painting.")
        self.working_size = _spin(64, 4096, options.working_size,
                                  "Long side, in pixels, the painter works at; larger is slower and finer.", 64)
        self.iterations = _spin(0, 10000, options.iterations, "Optimisation steps per level: fewer is faster "
                                "and rougher.")
        self.iterations.setSpecialValueText("auto")  # 0: the painter's default
        self.refine = _check("Refine all strokes together at the end", options.refine)
        self.refine.setToolTip("Closer to the image; off is faster (a draft).")
        self.vector = _check("Also add the strokes as a vector layer", options.vector_layer)
        super().__init__("brushwork: Paint with strokes", [
            ("Brush", self.brush), ("Strokes", self.strokes), ("Seed", self.seed),
            ("Working size", self.working_size), ("Steps per level", self.iterations), ("", self.refine),
            ("", self.vector)], parent)

    def options(self) -> PaintOptions:
        return PaintOptions(self.brush.currentText(), self.strokes.value(), self.seed.value(),
                            self.working_size.value(), self.iterations.value(), self.vector.isChecked(),
                            self.refine.isChecked())


class StylizeDialog(OptionsDialog):
    def __init__(self, options: StylizeOptions, parent=None) -> None:
        row = QHBoxLayout()
        self.style = QLineEdit(options.style)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.style)
        row.addWidget(browse)
        self.method = _combo(METHODS, options.method)
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 1.0)
        self.alpha.setSingleStep(0.05)
        self.alpha.setValue(options.alpha)
        self.preserve = _check("Keep the image's colours", options.preserve_color)
        super().__init__("brushwork: Stylize", [("Style image", row), ("Method", self.method),
                                                ("Strength", self.alpha), ("", self.preserve)], parent)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style image", self.style.text(),
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
        if path:
            self.style.setText(path)

    def validate(self) -> str | None:
        return self.options().check()

    def options(self) -> StylizeOptions:
        return StylizeOptions(self.style.text().strip(), self.method.currentText(), self.alpha.value(),
                              self.preserve.isChecked())


class ProgressDialog(QDialog):
    """Preview, message, bar and Cancel; window-modal so the user cannot edit the image under the job."""

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModal)
        layout = QVBoxLayout(self)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumSize(256, 64)
        self.message = QLabel("starting")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        buttons.rejected.connect(self.reject)
        for widget in (self.preview, self.message, self.bar, buttons):
            layout.addWidget(widget)

    def show_preview(self, png: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(png, "PNG"):
            self.preview.setPixmap(pixmap)


class JobDriver:
    """Shows a DocumentJob, whose runner works in a background thread, in a ProgressDialog: a UI
    timer copies its progress and preview into the dialog and applies the result when it is done."""

    def __init__(self, title: str, job: jobs.DocumentJob) -> None:
        self.dialog = ProgressDialog(title, _window_widget())
        self.dialog.rejected.connect(self.cancel)
        self.job = job
        self.preview: bytes | None = None
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)
        self.dialog.show()
        job.runner.start()

    def tick(self) -> None:
        runner = self.job.runner
        if runner.preview_png is not self.preview:
            self.preview = runner.preview_png
            self.dialog.show_preview(self.preview)
        self.dialog.message.setText(runner.message)
        self.dialog.bar.setValue(int(runner.fraction * 1000))
        if not runner.finished:
            return
        self.timer.stop()
        self.dialog.hide()
        if runner.state == "done":
            try:
                self.job.apply()
            except BridgeError as exc:
                _error(str(exc))
        elif runner.state == "failed":
            _error(runner.error or "the job failed")
        _active.discard(self)

    def cancel(self) -> None:
        if not self.job.runner.finished:
            self.job.runner.cancel()
        self.timer.stop()
        _active.discard(self)


_active: set[JobDriver] = set()  # drivers live until their job ends (nothing else holds them)


def _style_png(path: str) -> bytes:
    """Any image Qt reads, as PNG bytes (the server takes PNG)."""
    image = QImage(path)
    if image.isNull():
        raise BridgeError(f"cannot read the style image {path}")
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def _document():
    problem = unsupported_krita(Krita.instance().version())
    if problem:
        raise BridgeError(problem)
    doc = Krita.instance().activeDocument()
    problem = jobs.document.check_document(doc)
    if problem:
        raise BridgeError(problem)
    return doc


def _run(dialog_type, options_type, title: str, start) -> None:
    """Dialog (with the last values) → saved values → `start(doc, options)`, a DocumentJob that runs in
    the background while a progress dialog shows it."""
    try:
        doc = _document()
        settings = _settings()
        dialog = dialog_type(settings.load(options_type), _window_widget())
        if dialog.exec_() != QDialog.Accepted:
            return
        options = dialog.options()
        settings.save(options)
        _active.add(JobDriver(title, start(doc, options)))
    except BridgeError as exc:
        _error(str(exc))


def paint_with_strokes() -> None:
    _run(PaintDialog, PaintOptions, "brushwork: painting", jobs.start_paint)


def stylize() -> None:
    _run(StylizeDialog, StylizeOptions, "brushwork: stylizing",
         lambda doc, options: jobs.start_stylize(doc, options, _style_png(options.style)))


class BrushworkExtension(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:
        paint = window.createAction(PAINT_ACTION, "Paint with strokes…", "tools/scripts")
        paint.triggered.connect(paint_with_strokes)
        style = window.createAction(STYLIZE_ACTION, "Stylize…", "tools/scripts")
        style.triggered.connect(stylize)
