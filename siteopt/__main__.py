"""``python -m siteopt``."""

from siteopt.cli.entry import main

main()
