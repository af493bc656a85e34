"""Render short band songs in 3/4 and 6/8 with their beat labels (the synth engine writes 4/4 only).

    python benchmarks/render_meter_songs.py OUT [--songs 6] [--first 0] [--seconds 30] [--soundfont TimGM6mb]

Each song is drums, bass and piano on the synth engine's parts, humanisation and
FluidSynth renderer: a waltz (3/4: kick and bass on 1, piano chords on 2 and 3) or a
6/8 groove (two dotted-quarter beats a bar, eighth-note hi-hats and piano). Writes
``OUT/<name>/{mixture,drums,bass}.wav`` and ``beats.json`` in the layout
``benchmarks/eval_beats.py`` scores; a 6/8 bar is labelled as 2 beats (the dotted quarters).
Song ``i`` is drawn from seed ``i``: ``--first`` starts further on, for songs of their own
(the beat network trains on ``--first 100`` and up, the evaluation uses 0-99).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from stemdesk.audio import Audio, write_audio
from stemdesk.training.synth.humanise import BeatNote, Feel, perform
from stemdesk.training.synth.render import fresh_synthesizer, render_part
from stemdesk.training.synth.soundfonts import find_soundfont
from stemdesk.training.synth.song import Part
from stemdesk.training.synth.theory import Key, chord_of_numeral, close_voicing

RATE = 44100
PROGRESSIONS = (("I", "IV", "V", "I"), ("I", "vi", "IV", "V"), ("vi", "IV", "I", "V"), ("I", "V", "vi", "IV"))
KICK, SNARE, HAT = 36, 38, 42


def waltz(rng: random.Random, bars: int, key: Key) -> tuple[list[BeatNote], list[BeatNote], list[BeatNote]]:
    """Drums, bass and piano of a 3/4 song in quarter-note beats."""
    progression = rng.choice(PROGRESSIONS)
    drums, bass, piano = [], [], []
    for bar in range(bars):
        start = 3.0 * bar
        chord = chord_of_numeral(progression[bar % 4], key)
        drums += [BeatNote(start, 0.5, KICK, 100), BeatNote(start + 1, 0.5, HAT, 70), BeatNote(start + 2, 0.5, HAT, 65)]
        if rng.random() < 0.5:
            drums.append(BeatNote(start + 2, 0.5, SNARE, 60))
        bass.append(BeatNote(start, 1.8, 36 + chord.root, 100))
        if rng.random() < 0.5:
            bass.append(BeatNote(start + 2, 0.9, 36 + (chord.root + 7) % 12, 80))
        for beat in (1, 2):
            piano += [BeatNote(start + beat, 0.8, pitch, 72) for pitch in close_voicing(chord, 62)]
    return drums, bass, piano


def six_eight(rng: random.Random, bars: int, key: Key) -> tuple[list[BeatNote], list[BeatNote], list[BeatNote]]:
    """Drums, bass and piano of a 6/8 song in quarter-note beats (an eighth is half a beat)."""
    progression = rng.choice(PROGRESSIONS)
    drums, bass, piano = [], [], []
    for bar in range(bars):
        start = 3.0 * bar
        chord = chord_of_numeral(progression[bar % 4], key)
        voicing = close_voicing(chord, 64)
        drums += [BeatNote(start, 0.5, KICK, 105), BeatNote(start + 1.5, 0.5, SNARE, 90)]
        drums += [BeatNote(start + 0.5 * eighth, 0.25, HAT, 80 if eighth % 3 == 0 else 55) for eighth in range(6)]
        bass += [BeatNote(start, 1.4, 36 + chord.root, 100), BeatNote(start + 1.5, 1.4, 36 + (chord.root + 7) % 12, 85)]
        piano += [BeatNote(start + 0.5 * eighth, 0.45, voicing[eighth % 3], 75 if eighth % 3 == 0 else 60)
                  for eighth in range(6)]
    return drums, bass, piano


def render_song(folder: Path, index: int, seconds: float, soundfont: Path) -> None:
    rng = random.Random(index)
    meter = 3 if index % 2 == 0 else 2
    # Quarter notes per minute; a 6/8 beat is a dotted quarter.
    beat_bpm = rng.uniform(90, 180) if meter == 3 else rng.uniform(50, 90)
    quarter_bpm = beat_bpm if meter == 3 else beat_bpm * 1.5
    bars = int(seconds * quarter_bpm / 60 / 3) + 1
    key = Key(rng.randrange(12), "major")
    written = (waltz if meter == 3 else six_eight)(rng, bars, key)
    feel = Feel(timing_ms=8.0, velocity_spread=6.0)
    parts = [Part("drums", 0, perform(written[0], quarter_bpm, feel, rng, seconds), is_drum=True),
             Part("bass", 33, perform(written[1], quarter_bpm, feel, rng, seconds)),
             Part("piano", 0, perform(written[2], quarter_bpm, feel, rng, seconds))]
    samples = round(seconds * RATE)
    with fresh_synthesizer(str(soundfont), RATE) as synth:
        stems = {part.name: render_part(synth, part, samples)[0] for part in parts}
    peak = max(float(np.max(np.abs(sum(stems.values())))), 1e-9)
    stems = {name: audio * (0.8 / peak) for name, audio in stems.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("drums", "bass"):
        write_audio(folder / f"{name}.wav", Audio(stems[name], RATE), "FLOAT")
    write_audio(folder / "mixture.wav", Audio(sum(stems.values()), RATE), "FLOAT")
    beats = np.arange(0.0, seconds, 60.0 / beat_bpm)
    labels = {"bpm": round(beat_bpm, 3), "meter": meter, "beats": beats.round(5).tolist(),
              "downbeats": beats[::meter].round(5).tolist()}
    (folder / "beats.json").write_text(json.dumps(labels))
    print(f"{folder.name}: {'3/4' if meter == 3 else '6/8'} at {beat_bpm:.1f} beats a minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--first", type=int, default=0, help="index (and seed) of the first song")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--soundfont", default="TimGM6mb")
    args = parser.parse_args()
    soundfont = find_soundfont(args.soundfont)
    for index in range(args.first, args.first + args.songs):
        render_song(args.out / f"meter-{index:02d}", index, args.seconds, soundfont)


if __name__ == "__main__":
    main()
