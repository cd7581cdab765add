"""The engine's exception hierarchy.

`WorkbenchError` and its subclasses are errors the user can act on: each message says
what is wrong and how to fix it. Anything else that escapes is a bug in our code.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """An error caused by input, environment or a model, with a message for the user."""


class ModelError(WorkbenchError):
    """A model folder or source is missing, corrupt or not what was expected."""


class PreparationError(ModelError):
    """Model preparation could not finish (export, quantization or validation)."""


class QualityError(PreparationError):
    """A quantization was refused because it fell below the quality threshold."""


class ProviderError(WorkbenchError):
    """An execution provider name is unknown or cannot be used."""


class PromptTooLongError(WorkbenchError):
    """The prompt (plus the tokens to generate) does not fit in the model's context."""


class GrammarError(WorkbenchError):
    """A constraint grammar is invalid or cannot be satisfied."""


class Cancelled(WorkbenchError):
    """The operation was cancelled by the person."""


class StoreError(WorkbenchError):
    """A memory store is missing, locked, corrupt or was given bad input."""


class StoreFullError(StoreError):
    """The disk (or a file-size limit) refused a write; nothing committed was lost."""
