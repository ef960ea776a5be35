"""``python -m mock_detectors``: the same as ``swarm mocks``."""

import sys

from mock_detectors.cli import main

if __name__ == "__main__":
    sys.exit(main())
