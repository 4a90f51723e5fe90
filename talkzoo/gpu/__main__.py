"""`python3 -m talkzoo.gpu`: the GPU checks (talkzoo.gpu.runner)."""

import sys

from talkzoo.gpu.runner import main

sys.exit(main())
