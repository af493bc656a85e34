"""The instrument classes stemdesk separates, and how other taxonomies map onto them.

Every dataset (our rendered multitracks, MUSDB18, MedleyDB, Slakh2100) names
its stems its own way; loaders map them onto these classes so that a model
trained for "guitar" means the same thing whatever data it saw.
"""

from __future__ import annotations

#: stemdesk's stem classes. "other" is everything that is none of the rest.
CLASSES = ("vocals", "drums", "bass", "guitar", "piano", "other")
#: Classes split into finer stems where a dataset has them (stemdesk's renderer writes the
#: lead guitar and every other guitar part apart); a class's substems sum to its stem.
SUBSTEMS = {"guitar": ("guitar-lead", "guitar-rhythm")}

#: General MIDI program families (program // 8, programs 0-127) -> class.
_GM_FAMILIES = (
    "piano",   # 0-7 acoustic/electric pianos, harpsichord, clavinet
    "other",   # 8-15 chromatic percussion (celesta, vibraphone, marimba...)
    "other",   # 16-23 organs, accordion, harmonica
    "guitar",  # 24-31 nylon, steel, jazz, clean, muted, overdriven, distortion, harmonics
    "bass",    # 32-39 acoustic, fingered, picked, fretless, slap, synth bass
    "other",   # 40-47 strings, harp, timpani
    "other",   # 48-55 ensembles, choir aahs, orchestra hit
    "other",   # 56-63 brass
    "other",   # 64-71 reeds
    "other",   # 72-79 pipes
    "other",   # 80-87 synth leads
    "other",   # 88-95 synth pads
    "other",   # 96-103 synth effects
    "other",   # 104-111 ethnic (sitar, banjo, shamisen, koto, kalimba, bagpipe...)
    "drums",   # 112-119 percussive (tinkle bell, agogo, steel drums, woodblock, taiko, toms)
    "other",   # 120-127 sound effects
)


def class_of_gm_program(program: int, is_drum: bool = False) -> str:
    """stemdesk class of a General MIDI program (0-127); MIDI channel 10 parts are drums."""
    if is_drum:
        return "drums"
    if not 0 <= program <= 127:
        raise ValueError(f"General MIDI programs are 0-127, got {program}")
    return _GM_FAMILIES[program // 8]


def class_of_stem(stem: str) -> str | None:
    """The class that holds ``stem``: the class itself, a substem's class, or None for a name
    that is neither (a model's "rest" or "accompaniment")."""
    if stem in CLASSES:
        return stem
    return next((name for name, substems in SUBSTEMS.items() if stem in substems), None)
