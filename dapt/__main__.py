"""`python -m dapt` (what torchrun and the deepspeed launcher start on every rank)."""
import sys

from dapt.cli import main

sys.exit(main())
