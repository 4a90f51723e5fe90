"""Record the bundled speech asset `datamodules/assets/speech.ogg` with espeak-ng (run once, output is committed).

About three minutes of phonetically varied English sentences, spoken by several espeak-ng voices and variants at
different speeds and pitches, with short pauses between sentences, resampled to 16 kHz mono and written as Ogg
Vorbis through soundfile. Needs the `espeak-ng` program (apt) only when re-recording; nothing here runs at run time.

    .venv/bin/python scripts/record_speech.py [--out datamodules/assets/speech.ogg]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
OUT = Path(__file__).resolve().parents[1] / "datamodules" / "assets" / "speech.ogg"

# Open vowels, rounded vowels, bilabials (lip closures), labiodentals, plosives and sibilants, mixed on purpose.
SENTENCES = [
    "Bob bought a big blue balloon at the market on Monday morning.",
    "How about a warm bowl of oatmeal before we go out?",
    "The quick brown fox jumps over the lazy dog.",
    "Papa made pumpkin pie, and the whole family wanted more.",
    "Five wise owls flew over the foggy valley at dawn.",
    "Open the window wide, the room is far too hot.",
    "Maybe we should meet by the old mill, beyond the bridge.",
    "Who knew that a few blue moons would shine in June?",
    "I am absolutely sure the answer is yes.",
    "Please pass the peppers, the peas and the potatoes.",
    "Oh no, the orange bowl fell off the table!",
    "We will wait while the whales swim away from the boat.",
    "A large black cat sat on the mat and yawned.",
    "The map shows a path through the marsh to the harbour.",
    "Eat your beans, then you may have a piece of cake.",
    "Why do you always arrive so late on Fridays?",
    "My mother makes marvellous marmalade every summer.",
    "Look out, the ball is bouncing toward the pool!",
    "Thank you for the flowers, they are wonderful.",
    "Every evening the vivid violet sky fades to black.",
    "Shall we share the shoes, or should she choose new ones?",
    "The bus was full, so we walked all the way home.",
    "Hop on, pop off, and bob about on the bumpy boat.",
    "Awesome, our team won the final match by a mile!",
    "Round and round the wooden wheel rolls along the road.",
    "Measure the pressure, then open the valve slowly.",
    "I would love a cup of tea with a spoon of honey.",
    "Who put the moose in the room with the blue boots?",
    "Hello, how are you doing on this bright April afternoon?",
    "Big bubbles burst above the bath and made the baby laugh.",
    "Pick a number from one to nine, and write it down.",
    "The farmer fed the fat pigs with fresh apples.",
    "Go ahead, ask me anything about the ocean.",
    "We were away for a week in the mountains of Wales.",
    "A mouse ran out of the house and around the barn.",
    "Move the boxes to the van before it rains.",
    "Really, you bought a boat without a motor?",
    "Mmm, that smells amazing, what are you baking?",
    "Both of them thought the theatre was worth the money.",
    "The autumn leaves are falling all over the lawn.",
    "Wow, look at all those balloons floating above the bay!",
    "Peter Piper picked a peck of pickled peppers.",
    "Judge the jury by the joy in their voices.",
    "Our aunt owns an old orchard of oak and apple trees.",
    "Vera waved and moved away over the wavy water.",
    "May I borrow your umbrella for about an hour?",
    "Ah, so that is why the moon looks so large tonight.",
    "Boom, the big drum made the whole band jump.",
    "Wake up, it is a beautiful morning by the sea.",
]
# (voice+variant, words per minute, pitch 0-99): cycled over the sentences.
VOICES = [
    ("en-us", 150, 50),
    ("en-gb+f3", 160, 65),
    ("en-us+m3", 135, 40),
    ("en-gb-x-rp+f2", 170, 70),
    ("en-us+klatt", 145, 55),
    ("en-gb-scotland+m1", 155, 45),
    ("en-us+f4", 140, 75),
    ("en-029+m7", 165, 35),
]


def speak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """One sentence as float32 [N] mono at SAMPLE_RATE (espeak-ng writes 22.05 kHz WAV to stdout)."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", "150", "--stdout", text]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    wave, rate = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    g = gcd(SAMPLE_RATE, rate)
    return resample_poly(wave, SAMPLE_RATE // g, rate // g).astype(np.float32)


def record(seed: int = 0) -> np.ndarray:
    """All sentences with 0.25–0.6 s pauses between them, peak-normalised to 0.8: float32 [N] at 16 kHz."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = [np.zeros(int(0.3 * SAMPLE_RATE), np.float32)]
    for i, text in enumerate(SENTENCES):
        voice, speed, pitch = VOICES[i % len(VOICES)]
        parts.append(speak(text, voice, speed, pitch))
        parts.append(np.zeros(int(rng.uniform(0.25, 0.6) * SAMPLE_RATE), np.float32))
    wave = np.concatenate(parts)
    return (0.8 * wave / max(float(np.abs(wave).max()), 1e-6)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quality", type=float, default=0.9, help="Vorbis compression level 0 (best) .. 1")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: apt-get install espeak-ng")
    wave = record()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # libsndfile's Vorbis encoder crashes on one large write: feed it in one-second blocks.
    with sf.SoundFile(
        args.out, "w", SAMPLE_RATE, 1, format="OGG", subtype="VORBIS", compression_level=args.quality
    ) as f:
        for start in range(0, len(wave), SAMPLE_RATE):
            f.write(wave[start : start + SAMPLE_RATE])
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out}: {len(wave) / SAMPLE_RATE:.1f} s at {SAMPLE_RATE} Hz, {size_kb:.0f} KiB")


if __name__ == "__main__":
    main()
