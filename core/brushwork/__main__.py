"""`python -m brushwork ...`: what the editor plug-ins run to start `brushwork serve` with a known
interpreter (the console script's location depends on how brushwork was installed)."""

from brushwork.cli import main

main()
