"""Errors shared by the solver backends."""


class UnsupportedFeature(NotImplementedError):
    """The instance uses a feature this backend cannot model; the message names both."""

    def __init__(self, solver: str, feature: str) -> None:
        super().__init__(f"not supported by {solver}: {feature}")
        self.solver = solver
        self.feature = feature


class UnknownOption(TypeError, ValueError):
    """A solver was given an option it does not have: a caller's mistake (a ``TypeError``, as for
    any unexpected keyword, and a ``ValueError`` so that the CLI reports it as bad input)."""


def reject_options(solver: str, options: dict, accepted: tuple[str, ...] = ()) -> None:
    """Raise :class:`UnknownOption` naming ``options`` (and what ``solver`` does accept)."""
    if options:
        known = f"; it accepts {', '.join(accepted)}" if accepted else "; it takes no options"
        raise UnknownOption(f"{solver} solver: unknown option(s) {sorted(options)}{known}")
