import sys

try:
    from rnnbench.commands.cli import main
except KeyboardInterrupt:  # interrupted while starting: nothing was written yet
    sys.exit(130)

sys.exit(main())
