"""Gate requirements: `metric OP number` or `metric OP champion.metric [+|-|* number]`, parsed by hand.

Built on the expression language's tokenizer and parser (`mlspec.lang.expressions`), so requirements get
the same strict lexing and the same exact error offsets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mlspec.lang.expressions import ExprError, _Parser


@dataclass(frozen=True)
class Requirement:
    """A parsed gate requirement such as ``roc_auc >= 0.9`` or ``rmse <= champion.rmse * 1.05``."""

    metric: str
    op: str
    threshold: float | None
    champion_metric: str | None
    margin_op: str | None
    margin: float | None
    text: str
    metric_span: tuple[int, int]

    def to_dict(self) -> dict:
        """The requirement as the manifest stores it: the fields it sets (an absolute requirement has no
        champion metric or margin, one against the champion no threshold) and its text. The metric's span
        in the text only places diagnostics, so it stays out."""
        fields = {"metric": self.metric, "op": self.op, "threshold": self.threshold,
                  "champion_metric": self.champion_metric, "margin_op": self.margin_op, "margin": self.margin,
                  "text": self.text}
        return {name: value for name, value in fields.items() if value is not None}


def _format_number(value: float) -> str:
    text = repr(value)
    return text.removesuffix(".0") if "e" not in text else text


def _take_number(parser: _Parser, expected: str, allow_negative: bool) -> float:
    sign = -1.0 if allow_negative and parser.at("-") else 1.0
    if sign < 0:
        parser.advance()
    if parser.current.kind != "number":
        raise parser.unexpected(expected)
    return sign * float(parser.advance().text)


@functools.lru_cache(maxsize=8192)
def parse_requirement(text: str) -> Requirement:
    """Parse a gate requirement: ``METRIC OP (NUMBER | champion.METRIC [(+|-|*) NUMBER])``.

    OP is one of >=, <=, > or <; the right side may be a negative number. Whether the metrics exist
    is checked elsewhere. Raises ExprError pointing at the culprit for any problem in the text.
    """
    parser = _Parser(text, "requirement")
    metric = parser.current
    if metric.kind != "name":
        raise parser.unexpected("expected a metric name")
    parser.advance()
    if metric.text == "champion" and parser.at("."):
        raise ExprError("the left side must be a metric of the candidate model", metric.offset, metric.length,
                        "put the champion on the right, e.g. 'roc_auc >= champion.roc_auc'")
    op = parser.current
    if not parser.at(">=", "<=", ">", "<"):
        error = parser.unexpected(f"expected >=, <=, > or < after '{metric.text}'")
        if op.text in ("==", "!="):
            error.hint = "requirements compare with >=, <=, > or <"
        raise error
    parser.advance()
    threshold = margin = champion_metric = margin_op = None
    if parser.current.kind == "name" and parser.current.text == "champion":
        parser.advance()
        if not parser.at("."):
            raise parser.unexpected("expected '.' after 'champion'")
        parser.advance()
        if parser.current.kind != "name":
            raise parser.unexpected("expected a metric name after 'champion.'")
        champion_metric = parser.advance().text
        right = f"champion.{champion_metric}"
        if parser.at("+", "-", "*"):
            margin_op = parser.advance().text
            margin = _take_number(parser, f"expected a number after '{margin_op}'", allow_negative=False)
            right += f" {margin_op} {_format_number(margin)}"
    else:
        expected = f"expected a number or champion.<metric> after '{op.text}'"
        threshold = _take_number(parser, expected, allow_negative=True)
        right = _format_number(threshold)
    if parser.current.kind != "end":
        first, last = parser.current, parser.tokens[-2]
        length = last.offset + len(last.text) - first.offset
        raise ExprError("unexpected text after the requirement", first.offset, length,
                        "write each requirement as its own list item")
    return Requirement(metric=metric.text, op=op.text, threshold=threshold, champion_metric=champion_metric,
                       margin_op=margin_op, margin=margin, text=f"{metric.text} {op.text} {right}",
                       metric_span=(metric.offset, len(metric.text)))
