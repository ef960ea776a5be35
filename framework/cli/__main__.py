"""``python -m framework.cli``: the ``swarm`` command, for tests and machines without the script."""

import sys

from framework.cli.main import main

sys.exit(main())
