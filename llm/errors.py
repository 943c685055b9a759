"""Errors the LLM layer raises for problems a user can fix (bad paths, wrong files)."""
from __future__ import annotations


class ModelSetupError(RuntimeError):
    """A model could not be set up. The message is one sentence: what is wrong, where, and the fix.

    Raised instead of a raw traceback so a serving process can show it and keep running.
    """


class BackendUnavailable(RuntimeError):
    """The model server could not give an answer; the message says why and what to do."""
