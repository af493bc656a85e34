"""The Export dialog: what to export, the format and the folder.

It only builds an :class:`~stemdesk.gui.exporting.ExportRequest`; the
:class:`~stemdesk.gui.export_controller.ExportController` hands it to an
:class:`~stemdesk.gui.exporting.ExportRunner`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from stemdesk.gui.exporting import ExportRequest
from stemdesk.gui.preferences import EXPORT_FORMATS


class ExportDialog(QDialog):
    """Choose what to export, the format and the folder; fires ``export_requested``.

    Non-modal: the song keeps playing and the mixer stays usable while it is open,
    so "current mix" means the mix at the moment Export is pressed. It opens
    with the last export's choice (``kind``, ``chosen`` stems), where the stems allow.
    """

    export_requested = Signal(object)

    def __init__(
        self,
        stems: tuple[str, ...],
        export_format: str,
        folder: Path,
        parent: QWidget | None = None,
        kind: str = "stems",
        chosen: tuple[str, ...] = (),
    ):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setModal(False)
        self.stems = stems

        self.kind_stems = QRadioButton("Stems")
        self.kind_stems.setToolTip("One file per chosen stem")
        self.kind_rest = QRadioButton("Everything but")
        self.kind_rest.setToolTip("The practice track: the song without one part")
        self.kind_mix = QRadioButton("Current mix")
        self.kind_mix.setToolTip("What you hear now: faders, mute, solo and master")
        self._kinds = QButtonGroup(self)
        for button in (self.kind_stems, self.kind_rest, self.kind_mix):
            self._kinds.addButton(button)
        known = [name for name in chosen if name in stems]
        if kind == "rest" and known:
            self.kind_rest.setChecked(True)
        elif kind == "mix":
            self.kind_mix.setChecked(True)
        else:
            self.kind_stems.setChecked(True)

        self.stem_boxes = {name: QCheckBox(name) for name in stems}
        for name, box in self.stem_boxes.items():
            box.setChecked(name in known if kind == "stems" and known else True)
        self.rest_stem = QComboBox()
        self.rest_stem.addItems(stems)
        if kind == "rest" and known:
            self.rest_stem.setCurrentText(known[0])

        self.format = QComboBox()
        self.format.addItems(list(EXPORT_FORMATS))
        self.format.setCurrentText(export_format)
        self.folder = QLineEdit(str(folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)

        stem_row = QHBoxLayout()
        stem_row.addWidget(self.kind_stems)
        for box in self.stem_boxes.values():
            stem_row.addWidget(box)
        stem_row.addStretch()
        rest_row = QHBoxLayout()
        rest_row.addWidget(self.kind_rest)
        rest_row.addWidget(self.rest_stem)
        rest_row.addStretch()
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Folder", folder_row)
        note = QLabel("Files go to a subfolder named after the song, e.g. “song - no_vocals.wav”;"
                      " an existing file is replaced.")
        note.setObjectName("dim")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(stem_row)
        layout.addLayout(rest_row)
        layout.addWidget(self.kind_mix)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        for button in (self.kind_stems, self.kind_rest, self.kind_mix):
            button.toggled.connect(self._update_enabled)
        for box in self.stem_boxes.values():
            box.toggled.connect(self._update_enabled)
        self._update_enabled()

    def request(self) -> ExportRequest:
        """The export the dialog describes now."""
        if self.kind_stems.isChecked():
            kind, stems = "stems", tuple(name for name, box in self.stem_boxes.items() if box.isChecked())
        elif self.kind_rest.isChecked():
            kind, stems = "rest", (self.rest_stem.currentText(),)
        else:
            kind, stems = "mix", ()
        return ExportRequest(kind, Path(self.folder.text()).expanduser(), self.format.currentText(), stems)

    def _update_enabled(self) -> None:
        stems_chosen = any(box.isChecked() for box in self.stem_boxes.values())
        for box in self.stem_boxes.values():
            box.setEnabled(self.kind_stems.isChecked())
        self.rest_stem.setEnabled(self.kind_rest.isChecked())
        self.export_button.setEnabled(not self.kind_stems.isChecked() or stems_chosen)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _accept(self) -> None:
        self.export_requested.emit(self.request())
        self.accept()
