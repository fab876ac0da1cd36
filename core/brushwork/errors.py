"""User-facing errors: anything raised as a BrushworkError is a problem with the user's input or
environment, and its message alone (no traceback) must tell them what to fix."""


class BrushworkError(Exception):
    """A problem the user can act on; the CLI prints its message as one line."""


class InvalidStrokeError(BrushworkError, ValueError):
    """A stroke list that breaks the documented layouts or ranges."""


class StrokeFileError(BrushworkError):
    """A stroke file (SVG or JSON) that cannot be read or written."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the CLI's handler so that it takes Ctrl-C's way out: a paint keeps the
    strokes painted so far, temporary files and folders are removed, child processes stopped."""
