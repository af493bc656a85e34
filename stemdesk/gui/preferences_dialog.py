"""The Preferences dialog: compute device, sound output, buffer, exports, cache."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from stemdesk.errors import StemdeskError
from stemdesk.gui.preferences import BUFFER_SIZES, EXPORT_FORMATS, MEGABYTE, Preferences
from stemdesk.playback import list_output_devices

_DEVICE_LABELS = {"auto": "Automatic (GPU if usable)", "gpu": "GPU", "cpu": "CPU"}
_DEFAULT_OUTPUT = "System default"


class PreferencesDialog(QDialog):
    """Edits a :class:`Preferences`; fires ``applied`` with the new one on OK or Apply.

    Signals:
        applied(Preferences)
        clear_cache_requested()
    """

    applied = Signal(object)
    clear_cache_requested = Signal()

    def __init__(self, preferences: Preferences, cache_bytes: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setModal(False)
        # What the dialog does not edit (the separation model) passes through unchanged.
        self._base = preferences

        self.compute_device = QComboBox()
        for key, label in _DEVICE_LABELS.items():
            self.compute_device.addItem(label, key)
        self.compute_device.setCurrentIndex(self.compute_device.findData(preferences.compute_device))
        self.compute_device.setToolTip("Where the separation network runs; applies to the next song")

        self.output_device = QComboBox()
        self.output_device.addItem(_DEFAULT_OUTPUT, "")
        try:
            outputs = list_output_devices()
        except StemdeskError:
            outputs = []
        for name in outputs:
            self.output_device.addItem(name, name)
        if preferences.output_device and self.output_device.findData(preferences.output_device) < 0:
            # Keep a device that is unplugged now: it may come back.
            self.output_device.addItem(f"{preferences.output_device} (not found)", preferences.output_device)
        self.output_device.setCurrentIndex(max(0, self.output_device.findData(preferences.output_device)))

        self.buffer_size = QComboBox()
        for size in BUFFER_SIZES:
            self.buffer_size.addItem(f"{size} frames", size)
        self.buffer_size.setCurrentIndex(max(0, self.buffer_size.findData(preferences.buffer_size)))
        self.buffer_size.setToolTip("Smaller reacts faster to faders; larger is safer against dropouts")

        self.export_format = QComboBox()
        self.export_format.addItems(list(EXPORT_FORMATS))
        self.export_format.setCurrentText(preferences.export_format)
        self.export_folder = QLineEdit(preferences.export_folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.export_folder, 1)
        folder_row.addWidget(browse)

        self.cache_max_mb = QSpinBox()
        self.cache_max_mb.setRange(64, 1_000_000)
        self.cache_max_mb.setSingleStep(256)
        self.cache_max_mb.setSuffix(" MiB")
        self.cache_max_mb.setValue(preferences.cache_max_mb)
        self.cache_max_mb.setToolTip("Separated songs kept on disk so that reopening them is instant")
        self.cache_size = QLabel()
        self.cache_size.setObjectName("dim")
        self.show_cache_size(cache_bytes)
        clear = QPushButton("Clear cache")
        clear.setToolTip("Delete every separated song kept on disk")
        clear.clicked.connect(self.clear_cache_requested)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_max_mb)
        cache_row.addWidget(self.cache_size, 1)
        cache_row.addWidget(clear)

        form = QFormLayout()
        form.addRow("Compute device", self.compute_device)
        form.addRow("Audio output", self.output_device)
        form.addRow("Buffer size", self.buffer_size)
        form.addRow("Export format", self.export_format)
        form.addRow("Export folder", folder_row)
        form.addRow("Stem cache limit", cache_row)

        self.buttons = buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self._apply)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def preferences(self) -> Preferences:
        """The preferences as the dialog shows them."""
        return replace(
            self._base,
            compute_device=self.compute_device.currentData(),
            output_device=self.output_device.currentData(),
            buffer_size=self.buffer_size.currentData(),
            export_format=self.export_format.currentText(),
            export_folder=self.export_folder.text().strip(),
            cache_max_mb=self.cache_max_mb.value(),
        )

    def show_cache_size(self, cache_bytes: int) -> None:
        self.cache_size.setText(f"{cache_bytes / MEGABYTE:.0f} MiB in use")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.export_folder.text())
        if folder:
            self.export_folder.setText(folder)

    def _apply(self) -> None:
        self.applied.emit(self.preferences())

    def _ok(self) -> None:
        self._apply()
        self.accept()
