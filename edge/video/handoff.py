"""Live frames to the analysis thread, newest first: frames that arrive while the pipeline
is busy replace the waiting one and are counted as dropped, so a slow pipeline falls behind
by at most one frame instead of by a growing decoder buffer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from edge.video.source import Frame, VideoSource


def latest_frames(source: VideoSource, on_drop: Callable[[], None]) -> Iterator[Frame]:
    """The source's frames, dropping stale ones for live sources; files lose none."""
    if not source.live:
        yield from source.frames()
        return
    ready = threading.Condition()
    slot: list[Frame] = []
    done = threading.Event()
    failure: list[BaseException] = []

    def read() -> None:
        try:
            for frame in source.frames():
                with ready:
                    if slot:
                        slot.clear()
                        on_drop()
                    slot.append(frame)
                    ready.notify()
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            done.set()
            with ready:
                ready.notify()

    reader = threading.Thread(target=read, name=f"decode-{source.url}", daemon=True)
    reader.start()
    try:
        while True:
            with ready:
                while not slot and not done.is_set():
                    ready.wait(0.5)
                frame = slot.pop() if slot else None
            if frame is not None:
                yield frame
            elif done.is_set():
                break
        if failure:
            raise failure[0]
    finally:
        source.stop()
        reader.join(timeout=5)
