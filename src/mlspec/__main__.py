"""`python -m mlspec` runs the command line."""

from mlspec.cli.entry import main

main()
