"""Beat labels of procedural songs: the grid the parts are written on."""

import json

import numpy as np
import pytest

from stemdesk.training.synth.arrangement import compose
from stemdesk.training.synth.labels import LABELS, beat_labels, write_labels
from stemdesk.training.synth.song import Song


@pytest.mark.parametrize("genre", ["rock", "ballad", "funk"])
def test_labels_follow_the_songs_tempo_and_bars_and_the_kick_lands_on_them(genre):
    song = compose(3, 20.0, genre)
    labels = beat_labels(song, 20.0)
    beats = np.array(labels["beats"])
    assert labels["bpm"] == song.tempo and labels["meter"] == 4
    assert np.allclose(np.diff(beats), 60.0 / song.tempo, atol=1e-4)
    assert beats[0] == 0.0 and beats[-1] < 20.0 <= beats[-1] + 60.0 / song.tempo
    assert labels["downbeats"] == labels["beats"][::4]
    kicks = [note.time for part in song.parts if part.is_drum for note in part.notes if note.pitch == 36]
    # Most bars start with a (humanised) kick within a few tens of ms of the labelled downbeat.
    distance = np.min(np.abs(np.array(labels["downbeats"])[:, None] - np.array(kicks)[None, :]), axis=1)
    assert np.mean(distance < 0.04) > 0.75


def test_score_excerpts_have_no_labels_and_write_no_file(tmp_path):
    score = Song("a chorale", "music21", "choral", 80.0, "C major", [], 1)
    assert beat_labels(score, 10.0) is None
    write_labels(tmp_path, score, 10.0)
    assert not list(tmp_path.iterdir())
    write_labels(tmp_path, compose(1, 5.0, "pop"), 5.0)
    assert json.loads((tmp_path / LABELS).read_text())["meter"] == 4
