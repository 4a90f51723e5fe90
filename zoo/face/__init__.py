"""Face models shared by preprocessing (datamodules) and metrics (zoo.metrics): MediaPipe's bundled legacy models."""
