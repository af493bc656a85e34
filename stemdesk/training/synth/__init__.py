"""The multitrack data engine: songs rendered to one stem per instrument class.

Needs no torch: numpy, pedalboard, music21 and libfluidsynth only, so data sets can be
rendered on machines without the training stack.

- Songs: :mod:`.arrangement` composes procedural ones (genres in :mod:`.genres`, parts
  from :mod:`.drums`, :mod:`.basslines`, :mod:`.guitars`, :mod:`.accompaniment`,
  :mod:`.melody`, played by :mod:`.humanise`); :mod:`.scores` takes music21 corpus works.
  Either way a :class:`.song.Song` of parts of notes on General MIDI programs.
- Sound: :mod:`.render` plays each part alone through FluidSynth (:mod:`.libfluidsynth`)
  with a SoundFont (:mod:`.soundfonts`); :mod:`.effects` augments it with pedalboard;
  :mod:`.mixdown` levels parts into class stems whose sum is the mixture, exactly.
- Files: :mod:`.dataset_writer` writes the MUSDB18 layout; :mod:`.command` is the CLI.
- Training-time helpers on loaded stems: :mod:`.submixes` (every sub-mix containing the
  target) and :mod:`.silence` (trim the target's silent regions).
"""
