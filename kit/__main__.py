"""``python -m kit`` is the same as the ``kit`` command."""
import sys

from kit.cli import main

sys.exit(main())
