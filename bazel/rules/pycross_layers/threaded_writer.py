"""The uncompressed layer stream: bytes pass through to the output file, written
on a background thread so reading sources and writing the layer overlap."""

from __future__ import annotations

from typing import BinaryIO

#: Chunks queued for the writer thread of an uncompressed stream (each at most
#: the tar writer's chunk, 1 MiB), and the size below which a write of a
#: stream that has not started its thread yet is done inline.
_PLAIN_QUEUE = 16
_PLAIN_INLINE_BELOW = 256 * 1024


class _WriteState:
    """What the writer thread of ``_Plain`` shares with it (never the stream itself,
    so an abandoned stream can be collected and its thread ended)."""

    def __init__(self, raw: BinaryIO) -> None:
        import queue

        self.raw = raw
        self.queue: queue.Queue = queue.Queue(_PLAIN_QUEUE)
        self.error: BaseException | None = None
        self.aborted = False


def _write_worker(state: _WriteState) -> None:
    q = state.queue
    while True:
        data = q.get()
        if data is None:
            return
        if state.error is None and not state.aborted:
            try:
                state.raw.write(data)
            except BaseException as exc:  # re-raised on the caller's thread
                state.error = exc


class _Plain:
    """Passes bytes through, writing them to ``raw`` on a background thread.

    The caller (the tar writer) reads source files and hashes the tar stream
    while this thread hashes and writes the output file, so an uncompressed
    layer uses two cores. At most ``_PLAIN_QUEUE`` chunks wait in between.
    A stream dropped without ``close()`` (the caller failed) ends its thread
    and writes nothing more.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._state: _WriteState | None = None
        self._thread = None
        self._closed = False

    def _start(self) -> None:
        import threading

        self._state = _WriteState(self._raw)
        self._thread = threading.Thread(target=_write_worker, args=(self._state,),
                                        name="pycross-write", daemon=True)
        self._thread.start()

    def write(self, data) -> None:
        if self._closed:
            raise ValueError("write to a closed stream")
        state = self._state
        if state is not None and state.error is not None:
            self._raise()
        if not data:
            return
        if not isinstance(data, bytes):  # the caller may reuse a mutable buffer
            data = bytes(data)
        if state is None:
            if len(data) < _PLAIN_INLINE_BELOW:
                self._raw.write(data)  # small layers never start a thread
                return
            self._start()
            state = self._state
        state.queue.put(data)

    def _raise(self) -> None:
        exc, self._state.error = self._state.error, None
        raise exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._state.queue.put(None)
            self._thread.join()
            self._thread = None
            if self._state.error is not None:
                self._raise()

    def __del__(self) -> None:
        if self._thread is not None and not self._closed:
            self._state.aborted = True
            self._state.queue.put(None)
