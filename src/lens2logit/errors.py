"""One exception type for bad user input, so the CLI can report it in one line."""


class InputError(ValueError):
    """Bad input: a file, field or option that cannot be used. The message names it."""
