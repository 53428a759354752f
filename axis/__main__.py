import sys

from axis.cli import main

sys.exit(main())
