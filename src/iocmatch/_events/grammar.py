"""A STIX pattern read into stix2's AST, with every NOT kept.

stix2's visitor (3.0.2) keeps NOT only in front of ``=``: it drops it in
front of IN, LIKE, MATCHES, ISSUBSET and ISSUPERSET, reads ``NOT !=`` as
``!=``, and fails on ``NOT >``. Read as it does, ``NOT IN (80, 443)`` would
match port 80. The visitor here builds the same AST with ``negated`` set as
the grammar says.
"""

from __future__ import annotations

from typing import Any

from stix2.pattern_visitor import STIXPatternVisitorForSTIX20, STIXPatternVisitorForSTIX21
from stix2patterns.v20.grammars.STIXPatternParser import STIXPatternParser as Parser20
from stix2patterns.v20.pattern import Pattern as Pattern20
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as Parser21
from stix2patterns.v21.pattern import Pattern as Pattern21

from .._common.errors import PatternError
from .._patterns.room import with_room

_ORDER = {"GT": "GreaterThan", "LT": "LessThan", "GE": "GreaterThanEqual", "LE": "LessThanEqual"}


class _Negations:
    """The comparison visits of stix2's visitor, reading the NOT token they pass over."""

    parser_class: Any

    def _comparison(self, ctx: Any, name: str | None = None) -> Any:
        children = self.visitChildren(ctx)  # type: ignore[attr-defined]
        negated = _token(children[1]) == self.parser_class.NOT
        operator = children[2 if negated else 1]
        literal = children[3 if negated else 2]
        if name is None:  # an equality or an ordering: the operator token names the class
            symbol = self.parser_class.symbolicNames[_token(operator)]
            if symbol in ("EQ", "NEQ"):
                negated = negated != (symbol == "NEQ")
                name = "Equality"
            else:
                name = _ORDER[symbol]
        return self.instantiate(f"{name}ComparisonExpression", children[0], literal, negated)  # type: ignore[attr-defined]

    def visitPropTestEqual(self, ctx: Any) -> Any:  # noqa: N802 - the names ANTLR's visitor calls
        return self._comparison(ctx)

    def visitPropTestOrder(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx)

    def visitPropTestSet(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx, "In")

    def visitPropTestLike(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx, "Like")

    def visitPropTestRegex(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx, "Matches")

    def visitPropTestIsSubset(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx, "IsSubset")

    def visitPropTestIsSuperset(self, ctx: Any) -> Any:  # noqa: N802
        return self._comparison(ctx, "IsSuperset")


class _Visitor21(_Negations, STIXPatternVisitorForSTIX21):  # type: ignore[misc]
    pass


class _Visitor20(_Negations, STIXPatternVisitorForSTIX20):  # type: ignore[misc]
    pass


def _token(node: Any) -> int | None:
    symbol = getattr(node, "symbol", None)
    return symbol.type if symbol is not None else None


def parse(pattern: str) -> Any:
    """The AST of a STIX 2.1 pattern (or 2.0, when only that grammar reads it); PatternError with the reason.

    The grammar recurses once per operator: a pattern of a few hundred ORs
    is read again in a thread with room for ``MAX_NESTING`` levels.
    """
    try:
        return _parse(pattern)
    except RecursionError:
        return with_room(lambda: _parse(pattern), "iocmatch-event-pattern")


def _parse(pattern: str) -> Any:
    failure = "invalid STIX pattern"
    for pattern_class, visitor_class, parser_class in (
        (Pattern21, _Visitor21, Parser21),
        (Pattern20, _Visitor20, Parser20),
    ):
        try:
            return pattern_class(pattern).visit(visitor_class(parser_class, "", ""))
        except RecursionError:
            raise
        except Exception as exc:  # noqa: BLE001 - stix2 raises ParseException, ValueError and TypeError alike
            failure = f"invalid STIX pattern: {exc}"
    raise PatternError(failure)
