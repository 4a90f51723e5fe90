"""talkzoo: a PyTorch Lightning model zoo for audio-driven talking-portrait synthesis.

One import namespace. The repository's top-level folders install as sub-packages:
`talkzoo.zoo` (networks, plain torch), `talkzoo.datamodules` (speaker format, preprocessing, DataModules),
`talkzoo.lightning_modules` (training logic), `talkzoo.callbacks` (Lightning callbacks) and `talkzoo.configs`
(the recipes). This package itself is the app layer on top: the CLI, the method registry and the pipelines.
"""

__version__ = "0.2.0"
