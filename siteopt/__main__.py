"""``python -m siteopt``."""

from siteopt.cli.main import main

main()
