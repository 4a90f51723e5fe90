"""`talkzoo serve`: a trained avatar that talks in real time, over WebRTC, in a browser page (docs/serve.md).

    talkzoo serve --run-dir runs --speaker outputs/synth/speaker [--method moda] [--port 8010]

One aiohttp event loop serves the page (static/index.html) and the signalling; aiortc carries one audio and one
video track per session on one clock; each session has its own Avatar (the loaded networks are shared) fed
20 ms of audio at a time from the microphone, an uploaded file or silence; inference runs in a worker thread.
"""

from talkzoo.serve.config import ServeConfig

__all__ = ["ServeConfig"]
