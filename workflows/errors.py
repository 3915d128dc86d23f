"""The one error a refused transition raises, whatever refused it."""


class TransitionRefused(Exception):
    """A transition that may not happen now; the message tells a person what to do."""

    def __init__(self, message: str, *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = reasons

    def __str__(self) -> str:
        if not self.reasons:
            return self.message
        return f"{self.message}: {'; '.join(self.reasons)}"
