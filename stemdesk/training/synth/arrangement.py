"""Procedural arrangements: from a seed to a whole band playing a song in some genre.

Everything random here draws from one ``random.Random(seed)`` in a fixed order, so a
seed always gives the same notes, on any machine and Python version (the Mersenne
Twister and the methods used here are stable across versions).
"""

from __future__ import annotations

import random

from stemdesk.training.synth.accompaniment import accompaniment_part
from stemdesk.training.synth.basslines import bass_part
from stemdesk.training.synth.drums import GROOVES, Groove, drum_part
from stemdesk.training.synth.form import Chart, build_chart
from stemdesk.training.synth.genres import GENRE_NAMES, GENRES, Genre, PartPlan
from stemdesk.training.synth.guitars import guitar_part
from stemdesk.training.synth.humanise import BeatNote, Feel, perform
from stemdesk.training.synth.melody import lead_part
from stemdesk.training.synth.song import Part, Song
from stemdesk.training.synth.theory import Key


def compose(seed: int, seconds: float, genre: str | None = None) -> Song:
    """A procedurally arranged song of at least ``seconds`` (notes starting later are dropped).

    ``genre`` is one of :data:`GENRE_NAMES`, or None to let the seed choose. Tempo, key,
    progressions, form, groove, band (which seats play, on which programs, in which
    style) and every humanised onset and velocity follow from ``seed``.
    """
    rng = random.Random(seed)
    if genre is None:
        genre = rng.choice(GENRE_NAMES)
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; known: {', '.join(GENRE_NAMES)}")
    style = GENRES[genre]
    tempo = round(rng.uniform(*style.tempo) * 2) / 2
    mode = rng.choice(style.modes)
    key = Key(rng.randrange(12), mode)
    options = style.progressions[mode]
    progressions = {"default": rng.choice(options), "chorus": rng.choice(options), "bridge": rng.choice(options)}
    progressions["solo"] = progressions["chorus"]
    chart = build_chart(rng, key, tempo, seconds, progressions, rng.choice(style.bars_per_chord))
    groove = rng.choice(GROOVES[genre])
    swing = rng.choice(style.swing)
    parts = []
    for plan in style.band:
        if rng.random() >= plan.chance:
            continue
        program = rng.choice(style.kits if plan.role == "drums" else plan.programs)
        playing = groove.name if plan.role == "drums" else rng.choice(plan.styles)
        written = _write(plan, playing, chart, groove, style, rng)
        feel = Feel(swing, plan.feel.offset_ms, plan.feel.timing_ms, plan.feel.velocity_spread)
        notes = perform(written, tempo, feel, rng, end=seconds)
        parts.append(Part(plan.name, program, notes, is_drum=plan.role == "drums", style=playing))
    return Song(
        title=f"{genre} in {key.name} at {tempo:g} bpm",
        source="procedural",
        genre=genre,
        tempo=tempo,
        key=key.name,
        parts=parts,
        seed=seed,
        form=chart.form,
        origin=f"groove: {groove.name}",
    )


def _write(plan: PartPlan, playing: str, chart: Chart, groove: Groove, style: Genre, rng: random.Random) -> list[BeatNote]:
    if plan.role == "drums":
        return drum_part(chart, groove, rng)
    if plan.role == "bass":
        return bass_part(chart, playing, groove, rng)
    if plan.role == "guitar":
        return guitar_part(chart, playing, rng)
    if plan.role == "chords":
        return accompaniment_part(chart, playing, rng, plan.around, plan.size)
    if plan.role == "lead":
        return lead_part(chart, rng, *plan.span, style.lead_scale[chart.key.mode])
    raise ValueError(f"unknown part role {plan.role!r}")
