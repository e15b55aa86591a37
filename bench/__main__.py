import sys

from bench._main import main

sys.exit(main())
