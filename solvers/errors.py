"""Errors shared by the solver backends."""


class UnsupportedFeature(NotImplementedError):
    """The instance uses a feature this backend cannot model; the message names both."""

    def __init__(self, solver: str, feature: str) -> None:
        super().__init__(f"not supported by {solver}: {feature}")
        self.solver = solver
        self.feature = feature
