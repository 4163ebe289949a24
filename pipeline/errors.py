"""One exception for user mistakes, and the wrapper that turns it into one line and exit 1."""
from __future__ import annotations

import functools
import sys


class UserError(Exception):
    """A mistake the user can fix (bad path, bad params, bad checksum...): reported in one line."""


def exit_on_user_error(main):
    """Decorate an entry point: a UserError (or a missing file, or Ctrl-C) prints one line to
    stderr and exits non-zero instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except FileNotFoundError as err:
            print(f"error: no such file: {err.filename or err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130

    return wrapper
