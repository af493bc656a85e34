"""Timing the first separated sound of a song played while it is being separated."""

import time

import numpy as np


class FirstSeparatedSound:
    """Wraps a playing mixer's render: the time of the first block of separated, audible audio.

    A block counts when it lies before the separation's frontier, is not
    silent, and equals the soloed stem there sample for sample (separated
    audio, not the song played as it is); the first block after play is
    skipped, as its gains ramp up from silence.
    """

    def __init__(self, mixer, growing, stem_index: int):
        self.mixer, self.growing, self.stem = mixer, growing, stem_index
        self.at: float | None = None
        self.frontier_then: int | None = None  # how far separation had got at that block
        self.cpu_at: float | None = None  # the process's CPU time (all threads) then
        self.blocks = 0
        self._render = mixer.render
        mixer.render = self._probe

    def _probe(self, out, fade_out=False):
        start, frontier = self.mixer.position, self.growing.frontier
        self._render(out, fade_out)
        self.blocks += 1
        stop = start + out.shape[0]
        if self.at is None and self.blocks > 1 and not fade_out and stop <= frontier and np.abs(out).max() > 1e-3:
            if np.array_equal(out.T, self.growing.buffer[self.stem][:, start:stop]):
                self.at = time.perf_counter()
                self.frontier_then = frontier
                self.cpu_at = time.process_time()


def play_as_soon_as_shown(window, stem: str = "vocals") -> list:
    """Solo ``stem`` and press play the moment a growing song appears; the probes made."""
    probes = []

    def play(loaded) -> None:
        window.mixer_model.set_solo(stem, True)
        probe = FirstSeparatedSound(window.transport.mixer, loaded.growing, loaded.growing.names.index(stem))
        probe.shown_at = time.perf_counter()
        probes.append(probe)
        window.actions["play"].trigger()

    window.song_growing_shown.connect(play)
    return probes
