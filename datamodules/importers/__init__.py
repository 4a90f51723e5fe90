"""Importers of speaker data processed by other pipelines into the talkzoo speaker format (README.md, "The speaker
format").

from talkzoo.datamodules.importers.ernerf import import_ernerf
import_ernerf("data/obama", "speakers/obama")   # `talkzoo import-ernerf DIR OUT`
"""
