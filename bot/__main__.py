"""``python -m bot`` runs the citebot command line."""

import sys

from bot.cli.main import main

sys.exit(main())
