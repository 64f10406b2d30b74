"""`python -m gradprobe.cli ...`: the same as the `gradprobe` command."""

from gradprobe.cli.app import main

main()
