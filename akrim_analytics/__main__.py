import os
import sys

from .cli import FAST_EXIT_COMMANDS, main

code = main()
if len(sys.argv) > 1 and sys.argv[1] in FAST_EXIT_COMMANDS:
    # the command closed its connection and files: skip the interpreter's module teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
