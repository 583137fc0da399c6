"""One way to move a row from state to state: the allowed moves as data, each move one conditional UPDATE.

A state machine lists its moves as {move: (from states, to state)}. Making a move is compare-and-set,
as healthchecks' sendalerts claims a check: UPDATE ... SET state = <to> WHERE <the rows> AND state IN
<from>, and the number of rows updated says who won. A row another process moved first is no longer in
a from-state and is simply not updated, so two processes can never both make the same move, whatever
they read before. A service that wanted a move and found nothing to move raises TransitionRefused, a
ValidationError, so forms, the API and admin show it as they show any other refused input.

The machines: messaging.dispatch (a message's send pipeline), lanes.reindex (re-index jobs),
billing.lifecycle (batches and invoices), statuspage.states (incidents and maintenances).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet


class TransitionRefused(ValidationError):
    """A move not allowed from the row's state, or one that found no row in a state it moves from.

    Always a dict of field errors (NON_FIELD_ERRORS unless a field is named), so `message_dict`,
    `messages` and form.add_error all work on it; str() is the plain sentence, for flash messages.
    """

    def __init__(self, message: str, field: str = NON_FIELD_ERRORS, move: str = "", state: str | None = None):
        self.text, self.field, self.move, self.state = message, field, move, state
        super().__init__({field: [ValidationError(message, code="transition_refused")]})

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Machine:
    """The allowed moves of one model's state field, and the conditional UPDATE that makes them.

    `states`, when given, is every state the field can hold (those with no way out too): the table is
    checked against it when the machine is built, so a move to or from a state that does not exist
    fails at import, not in production.
    """

    noun: str  # what moves, in words: "batch", "re-index job" (for refusals)
    field: str  # the model field holding the state
    moves: Mapping[str, tuple[Iterable[str], str]]
    states: Iterable[str] | None = None
    _sources: dict = dataclass_field(init=False, repr=False)

    def __post_init__(self):
        sources = {move: frozenset(from_states) for move, (from_states, _) in self.moves.items()}
        object.__setattr__(self, "_sources", sources)
        object.__setattr__(self, "moves", {move: (sources[move], to) for move, (_, to) in self.moves.items()})
        if self.states is not None:
            known = frozenset(self.states)
            object.__setattr__(self, "states", known)
            for move, (from_states, to) in self.moves.items():
                unknown = (from_states | {to}) - known
                if unknown:
                    raise ValueError(f"{self.noun} move {move!r} names states that do not exist: {sorted(unknown)}")

    # --- Reading the table -----------------------------------------------------------------------------

    def sources(self, move: str) -> frozenset[str]:
        """The states `move` moves from (KeyError for a move not in the table: a typo fails loudly)."""
        return self._sources[move]

    def target(self, move: str) -> str:
        return self.moves[move][1]

    def can(self, move: str, state: str | None) -> bool:
        """Whether `move` is allowed from `state` (KeyError for a move not in the table)."""
        return state in self._sources[move]

    def allowed(self, state: str | None) -> list[str]:
        """The moves allowed from `state`, in the table's order."""
        return [move for move, from_states in self._sources.items() if state in from_states]

    def move_between(self, state: str | None, to: str) -> str | None:
        """The move from `state` to `to` (the first in the table's order), or None: for a caller given a
        state to reach rather than a move to make (a status a form posted)."""
        return next((move for move, (sources, target) in self.moves.items() if target == to and state in sources), None)

    def by_state(self) -> dict[str | None, set[str]]:
        """{state: the states it can move to}, for every state (a state with no way out maps to an
        empty set)."""
        graph: dict[str | None, set[str]] = {state: set() for state in self.states or ()}
        for from_states, to in self.moves.values():
            for state in from_states:
                graph.setdefault(state, set()).add(to)
        return graph

    # --- Refusing ---------------------------------------------------------------------------------------

    def refusal(self, move: str, state: str | None = None, message: str = "", *, field: str = NON_FIELD_ERRORS):
        """The TransitionRefused for `move` (from `state`, when known), with `message` or a plain default."""
        if not message:
            where = f"A {state} {self.noun}" if state else f"This {self.noun}"
            message = f"{where} cannot {move.replace('_', ' ')}."
        return TransitionRefused(message, field, move, state)

    def check(self, move: str, state: str | None, message: str = "", *, field: str = NON_FIELD_ERRORS) -> None:
        """Raise TransitionRefused unless `move` is allowed from `state`. A move not in the table is
        refused too: here the move may come from input (a status a form posted)."""
        if move not in self._sources or state not in self._sources[move]:
            raise self.refusal(move, state, message, field=field)

    # --- Moving -----------------------------------------------------------------------------------------

    def move(self, rows: QuerySet, move: str, **fields) -> int:
        """Make `move` on every row of `rows` that is in one of its from-states, writing `fields` with
        it, in one conditional UPDATE; returns how many rows moved (0: none was in a from-state, perhaps
        because another process moved it first)."""
        return rows.filter(**{f"{self.field}__in": self.sources(move)}).update(
            **{self.field: self.target(move)}, **fields
        )

    def move_or_refuse(
        self, rows: QuerySet, move: str, message: str = "", *, field: str = NON_FIELD_ERRORS, **fields
    ) -> int:
        """`move`, raising TransitionRefused when it found nothing to move (and so changed nothing)."""
        moved = self.move(rows, move, **fields)
        if not moved:
            raise self.refusal(move, None, message, field=field)
        return moved
