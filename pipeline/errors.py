"""One exception for user mistakes, and the wrapper that turns a mistake into one line and exit 2."""
from __future__ import annotations

import functools
import sys

USAGE_EXIT = 2  # bad input, as argparse exits for a bad command line


class UserError(Exception):
    """A mistake the user can fix (bad path, bad params, bad checksum...): reported in one line."""


def exit_on_user_error(main):
    """Decorate an entry point (a stage's or the CLI's `main`): a UserError, a ValueError or
    TypeError raised by library code for a bad argument, or a missing file prints one line
    `error: ...` to stderr and exits 2 instead of a traceback; Ctrl-C exits 130."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (UserError, ValueError, TypeError) as err:
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            print(f"error: {message}", file=sys.stderr)
            return USAGE_EXIT
        except FileNotFoundError as err:  # an OS error names the file; ours say what to do
            print(f"error: no such file: {err.filename}" if err.filename else f"error: {err}", file=sys.stderr)
            return USAGE_EXIT
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130

    return wrapper
