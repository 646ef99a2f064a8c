"""``python -m glmspec`` runs the command line."""

import sys

from glmspec.cli import main

sys.exit(main())
