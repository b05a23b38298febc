"""The exception a stage raises to fail a job with a clear code."""

from schemas.errors import ErrorCode


class StageError(Exception):
    """A failure with a machine-readable code.

    ``retryable`` tells the task layer whether trying again later may help (a dependency that is
    down) or not (corrupt input): non-retryable errors fail the job at once.
    """

    def __init__(self, code: ErrorCode, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"StageError({self.code.value!r}, {self.message!r}, retryable={self.retryable})"


class AudioRejected(StageError):
    """Input audio the service refuses; never worth retrying."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(code, message, retryable=False)
