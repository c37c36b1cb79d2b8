"""`python -m mlspec` runs the command line."""

from mlspec.cli.main import main

main()
