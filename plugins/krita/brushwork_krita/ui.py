"""Krita's side of the plug-in: the menu actions, the dialogs and the progress dialog.

Nothing here waits: a job advances in `JobRunner.step()` calls (each a short request to the local
server) made by a QTimer on the UI thread, so Krita stays responsive while the server works.
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
from .model import BRUSHES, METHODS, PaintOptions, Settings, StylizeOptions

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


class PaintDialog(QDialog):
    def __init__(self, options: PaintOptions, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("brushwork: Paint with strokes")
        form = QFormLayout(self)
        self.brush = QComboBox()
        self.brush.addItems(BRUSHES)
        self.brush.setCurrentText(options.brush)
        self.strokes = QSpinBox()
        self.strokes.setRange(1, 20000)
        self.strokes.setValue(options.strokes)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(options.seed)
        self.working_size = QSpinBox()
        self.working_size.setRange(64, 4096)
        self.working_size.setSingleStep(64)
        self.working_size.setValue(options.working_size)
        self.working_size.setToolTip("Long side, in pixels, the painter works at; larger is slower and finer.")
        self.iterations = QSpinBox()
        self.iterations.setRange(0, 10000)
        self.iterations.setSpecialValueText("auto")  # 0: the painter's default
        self.iterations.setValue(options.iterations)
        self.iterations.setToolTip("Optimisation steps per level: fewer is faster and rougher.")
        self.vector = QCheckBox("Also add the strokes as a vector layer")
        self.vector.setChecked(options.vector_layer)
        form.addRow("Brush", self.brush)
        form.addRow("Strokes", self.strokes)
        form.addRow("Seed", self.seed)
        form.addRow("Working size", self.working_size)
        form.addRow("Steps per level", self.iterations)
        form.addRow(self.vector)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> PaintOptions:
        return PaintOptions(self.brush.currentText(), self.strokes.value(), self.seed.value(),
                            self.working_size.value(), self.iterations.value(), self.vector.isChecked())


class StylizeDialog(QDialog):
    def __init__(self, options: StylizeOptions, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("brushwork: Stylize")
        form = QFormLayout(self)
        row = QHBoxLayout()
        self.style = QLineEdit(options.style)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.style)
        row.addWidget(browse)
        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setCurrentText(options.method)
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 1.0)
        self.alpha.setSingleStep(0.05)
        self.alpha.setValue(options.alpha)
        self.preserve = QCheckBox("Keep the image's colours")
        self.preserve.setChecked(options.preserve_color)
        form.addRow("Style image", row)
        form.addRow("Method", self.method)
        form.addRow("Strength", self.alpha)
        form.addRow(self.preserve)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style image", self.style.text(),
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
        if path:
            self.style.setText(path)

    def _accept(self) -> None:
        problem = self.options().check()
        if problem:
            QMessageBox.warning(self, "brushwork", problem)
            return
        self.accept()

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
    """Advances one DocumentJob from a timer and shows it in a ProgressDialog."""

    def __init__(self, title: str, start) -> None:
        self.dialog = ProgressDialog(title, _window_widget())
        self.dialog.rejected.connect(self.cancel)
        self.job = start(self.dialog.show_preview)
        self.timer = QTimer()
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)
        self.dialog.show()

    def tick(self) -> None:
        runner = self.job.runner
        runner.step()
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
    doc = Krita.instance().activeDocument()
    problem = jobs.document.check_document(doc)
    if problem:
        raise BridgeError(problem)
    return doc


def paint_with_strokes() -> None:
    try:
        doc = _document()
        settings = _settings()
        dialog = PaintDialog(settings.load(PaintOptions), _window_widget())
        if dialog.exec_() != QDialog.Accepted:
            return
        options = dialog.options()
        settings.save(options)
        _active.add(JobDriver("brushwork: painting", lambda preview: jobs.start_paint(doc, options, preview)))
    except BridgeError as exc:
        _error(str(exc))


def stylize() -> None:
    try:
        doc = _document()
        settings = _settings()
        dialog = StylizeDialog(settings.load(StylizeOptions), _window_widget())
        if dialog.exec_() != QDialog.Accepted:
            return
        options = dialog.options()
        settings.save(options)
        style = _style_png(options.style)
        _active.add(JobDriver("brushwork: stylizing", lambda preview: jobs.start_stylize(doc, options, style)))
    except BridgeError as exc:
        _error(str(exc))


class BrushworkExtension(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:
        paint = window.createAction(PAINT_ACTION, "Paint with strokes…", "tools/scripts")
        paint.triggered.connect(paint_with_strokes)
        style = window.createAction(STYLIZE_ACTION, "Stylize…", "tools/scripts")
        style.triggered.connect(stylize)
