import sys

from lens2logit.cli import main

sys.exit(main())
