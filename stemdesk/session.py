"""One song open in the app: the decoded file and, once separated, its stems.

Plain Python, no Qt: the GUI calls :func:`open_song` (or :func:`decode_song`
then :func:`separate_song`, to show the mixture while the stems are being
computed) inside a worker thread and turns the plain ``progress`` callback
into signals. A :class:`SongSession` is immutable, so handing one from the
worker to the GUI thread needs no lock.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .audio import Audio, decode
from .chunking import CancelToken, Cancelled, Progress
from .growing_stems import GrowingStems
from .separators import SeparatorCard, StemSeparator
from .stem_cache import StemCache


@dataclass(frozen=True, eq=False)
class SongSession:
    """A song and its stems.

    Attributes:
        path: the file it was decoded from.
        mixture: the decoded file at its own rate, float32 ``(channels, samples)``.
        card: the model (or preset) that made ``stems``; None before separation.
        stems: ``{stem: Audio}`` in the card's order, each shaped and timed
            like ``mixture`` and summing to it; None before separation.
        from_cache: whether ``stems`` came from the disk cache.
    """

    path: Path
    mixture: Audio
    card: SeparatorCard | None = None
    stems: dict[str, Audio] | None = None
    from_cache: bool = False

    @property
    def title(self) -> str:
        """The file name without its suffix, for window titles and export folders."""
        return self.path.stem

    @property
    def separated(self) -> bool:
        return self.stems is not None


def decode_song(path: str | os.PathLike) -> SongSession:
    """A session holding only the decoded mixture (StemdeskError for a bad file)."""
    path = Path(path)
    return SongSession(path=path, mixture=decode(path))


def separate_song(
    song: SongSession,
    separator: StemSeparator,
    cache: StemCache | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    on_growing: Callable[[GrowingStems], None] | None = None,
) -> SongSession:
    """``song`` with the stems of ``separator``'s model: from ``cache`` if it has them.

    On a cache miss the song is separated (``progress(done, total)`` after
    each chunk, ``cancel`` checked between chunks) and the stems are stored.
    A cache hit calls ``progress`` never; ``from_cache`` tells the two apart.
    A song already separated by the same model is returned as it is.

    ``on_growing(growing)`` is called (on this thread) once the first span of
    a fresh separation is final, unless it is the whole song, with the :class:`GrowingStems` the stems are
    being written into, so that the song can be played while the rest is
    computed; only for separators that hand out spans (``on_span`` / ``out``).

    Raises:
        Cancelled: ``cancel`` was set; nothing is stored.
        StemdeskError: the song cannot be separated (e.g. more than two channels).
    """
    card = separator.card
    if song.stems is not None and song.card is not None and song.card.identity == card.identity:
        return song
    if cancel is not None and cancel.cancelled:
        raise Cancelled()
    key = cache.key(song.mixture, card) if cache is not None else None
    if cache is not None:
        stems = cache.load(key)
        if stems is not None and _fits(stems, card, song.mixture):
            return replace(song, card=card, stems=stems, from_cache=True)
    if on_growing is not None and hands_out_spans(separator):
        stems = _separate_growing(song.mixture, separator, progress, cancel, on_growing)
    else:
        stems = separator.separate(song.mixture, progress=progress, cancel=cancel)
    if cache is not None and cache.store(key, stems):
        # The stored copy is memory-mapped: the separated arrays in RAM can go.
        stems = cache.load(key) or stems
    return replace(song, card=card, stems=stems, from_cache=False)


def open_song(
    path: str | os.PathLike,
    separator: StemSeparator,
    cache: StemCache | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SongSession:
    """Decode ``path`` and separate it (or take its stems from ``cache``).

    See :func:`separate_song` for ``progress``, ``cancel`` and the errors;
    a file that cannot be decoded raises StemdeskError.
    """
    return separate_song(decode_song(path), separator, cache, progress, cancel)


def hands_out_spans(separator: object) -> bool:
    """Whether ``separator.separate`` takes ``on_span`` and ``out`` (mask and hybrid separators and presets do)."""
    parameters = inspect.signature(separator.separate).parameters
    return "on_span" in parameters and "out" in parameters


def _separate_growing(
    mixture: Audio, separator, progress: Progress | None, cancel: CancelToken | None,
    on_growing: Callable[[GrowingStems], None],
) -> dict[str, Audio]:
    growing = GrowingStems(separator.stems, mixture)

    def on_span(start: int, span) -> None:
        growing.on_span(start, span)
        # A song of one chunk is done at once: nothing to play early.
        if start == 0 and not growing.complete:
            on_growing(growing)

    return separator.separate(mixture, progress=progress, cancel=cancel, on_span=on_span, out=growing.buffer)


def _fits(stems: dict[str, Audio], card: SeparatorCard, mixture: Audio) -> bool:
    """Whether cached stems are what this model would give for this mixture.

    The key already promises it; checking costs nothing and keeps a stale
    entry written by another stemdesk version from reaching the mixer.
    """
    return tuple(stems) == card.stems and all(
        audio.rate == mixture.rate and audio.samples.shape == mixture.samples.shape
        for audio in stems.values()
    )
