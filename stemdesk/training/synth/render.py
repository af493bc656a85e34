"""Render each part of a song to its own stereo audio with FluidSynth and a SoundFont.

The parts of a song are rendered one after another on one fresh synthesizer, each
starting from silence, so a part's audio holds that part alone. Fresh per song because
FluidSynth's voices keep a little state from the notes they played before (filter
and interpolation history), which changes the first blocks of later notes: a reused
synthesizer would render the same song slightly differently depending on what it
rendered earlier. A fresh one is cheap: a resident instance per process keeps the
SoundFont in FluidSynth's sample cache (FluidR3 loads in 0.4 s once, then 0.15 s;
MuseScore's sf3 takes 13 s to decompress once, then 0.3 s).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from stemdesk.errors import StemdeskError
from stemdesk.training.synth.libfluidsynth import DRUM_BANK, DRUM_CHANNEL, FluidSynth
from stemdesk.training.synth.song import Note, Part

_MELODIC_CHANNEL = 0
_VOLUME, _PAN, _EXPRESSION = 7, 10, 11


@cache
def _resident(soundfont: str) -> FluidSynth:
    """A synthesizer that lives as long as the process, only to keep ``soundfont`` cached."""
    return FluidSynth(soundfont)


def fresh_synthesizer(soundfont: str, rate: int) -> FluidSynth:
    """A new synthesizer for ``soundfont`` at ``rate`` Hz (close it after use)."""
    _resident(soundfont)
    return FluidSynth(soundfont, rate)


def render_part(synth: FluidSynth, part: Part, num_samples: int, pan: int = 64) -> tuple[np.ndarray, int]:
    """Audio of ``part`` alone: float32 ``(2, num_samples)`` at ``synth.rate``, and the
    program (or drum kit) actually used.

    A SoundFont without the part's program plays another program of the same GM family
    (so the stem class is unchanged); a missing kit falls back to the standard kit. ``pan`` is MIDI CC 10
    (0 left, 64 centre, 127 right). Notes still sounding at the end are cut there.
    """
    channel = DRUM_CHANNEL if part.is_drum else _MELODIC_CHANNEL
    program = _select_program(synth, channel, part)
    synth.control(channel, _VOLUME, 100)
    synth.control(channel, _EXPRESSION, 127)
    synth.control(channel, _PAN, int(np.clip(pan, 0, 127)))
    out = np.zeros((2, num_samples), np.float32)
    position = 0
    for frame, is_on, pitch, velocity in note_events(part.notes, synth.rate, num_samples):
        if frame > position:
            synth.write(out, position, frame - position)
            position = frame
        if is_on:
            synth.note_on(channel, pitch, velocity)
        else:
            synth.note_off(channel, pitch)
    if position < num_samples:
        synth.write(out, position, num_samples - position)
    synth.silence()
    return out, program


def note_events(notes: list[Note], rate: int, num_samples: int) -> list[tuple[int, bool, int, int]]:
    """MIDI events ``(frame, is_note_on, pitch, velocity)`` in playing order.

    A synthesizer's note-off ends every voice of that pitch on the channel, so a note is
    shortened to end where the next note of the same pitch starts, and of two notes
    starting together on one pitch only the louder is kept. At one frame note-offs come
    before note-ons, so a repeated note is re-struck rather than cut.
    """
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for note in notes:
        start = round(note.time * rate)
        if start >= num_samples:
            continue
        end = max(round((note.time + note.duration) * rate), start + 1)
        by_pitch.setdefault(note.pitch, []).append((start, end, note.velocity))
    events = []
    for pitch, spans in by_pitch.items():
        spans.sort(key=lambda span: (span[0], -span[2]))
        for index, (start, end, velocity) in enumerate(spans):
            if index and spans[index - 1][0] == start:
                continue
            following = next((span[0] for span in spans[index + 1 :] if span[0] > start), None)
            if following is not None:
                end = min(end, following)
            events.append((start, True, pitch, velocity))
            if end < num_samples:
                events.append((end, False, pitch, 0))
    events.sort(key=lambda event: (event[0], event[1]))
    return events


def _select_program(synth: FluidSynth, channel: int, part: Part) -> int:
    if part.is_drum:
        candidates = [(DRUM_BANK, part.program), (DRUM_BANK, 0)]
    else:
        family = part.program - part.program % 8
        candidates = [(0, part.program)] + [(0, program) for program in range(family, family + 8)]
    for bank, program in candidates:
        if synth.select(channel, bank, program):
            return program
    raise StemdeskError(f"the SoundFont has no usable preset for '{part.name}' (program {part.program})")
