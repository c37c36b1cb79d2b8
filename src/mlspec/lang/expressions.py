"""A tiny, safe expression language for feature expressions, row checks and gate requirements.

Expressions come from YAML specs in pull requests, so they are untrusted. They are tokenised and
parsed here by hand and never reach Python's own parser; every size (text, tokens, names,
numbers, strings, nesting) is bounded; and every error carries the offset and length of the
culprit so that diagnostics can underline it. Offsets index the Python string (code points).

Grammar of general expressions, lowest precedence first::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]    (never chained)
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | "true" | "false" | NAME
                | FUNCTION "(" [expr ("," expr)*] ")" | "(" expr ")"

Gate requirements have their own, smaller grammar; see `parse_requirement`.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mlspec.errors import MlspecError

MAX_TEXT_CHARS = 1000
MAX_TOKENS = 200
MAX_DEPTH = 32
MAX_NAME_CHARS = 64
MAX_NUMBER_CHARS = 32
MAX_STRING_CHARS = 256
MAX_ROUND_DIGITS = 15  # a float64 holds 15 significant decimal digits for sure

FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1), "clip": (3, 3), "exp": (1, 1), "is_null": (1, 1), "log": (1, 1), "log1p": (1, 1),
    "max": (2, 2), "min": (2, 2), "round": (1, 2), "sqrt": (1, 1), "where": (3, 3),
}
KEYWORDS = frozenset({"and", "or", "not", "true", "false"})

_COMPARISONS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_SUM_OPS = {"+": "add", "-": "sub"}
_PRODUCT_OPS = {"*": "mul", "/": "div", "%": "mod"}
_SYMBOLS = {op: symbol for table in (_COMPARISONS, _SUM_OPS, _PRODUCT_OPS) for symbol, op in table.items()}
_SYMBOLS |= {"and": "and", "or": "or"}
# Binding strength, used by `render` to decide where parentheses are needed; leaves and calls bind tightest.
_COMPARISON_LEVEL = 4
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "neg": 7}
_PRECEDENCE |= dict.fromkeys(_COMPARISONS.values(), _COMPARISON_LEVEL)
_PRECEDENCE |= dict.fromkeys(_SUM_OPS.values(), 5) | dict.fromkeys(_PRODUCT_OPS.values(), 6)
_ATOM_LEVEL = 8

_NO_ATTRIBUTES = "expressions name columns directly; attribute access is not allowed"
_WHITESPACE = frozenset(" \t\r\n")
_DIGITS = frozenset("0123456789")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Whatever glues onto a number (letters, digits, '_', '.') makes the whole run one malformed literal,
# so `0x1F` or `1_000` is reported as a unit rather than as a number followed by a name.
_NUMBER_TAIL_RE = re.compile(r"[A-Za-z0-9_.]*")
_OPERATORS = frozenset({"<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "(", ")", ",", "."})
# Symbols people bring from other languages, mapped to a hint. Two-character spellings are looked up
# before one-character ones, so '**' is reported as itself and not as '*' followed by '*'.
_FOREIGN_SYMBOLS = {
    "&&": "use and", "||": "use or", "=>": "did you mean '>='?", "=<": "did you mean '<='?",
    "<>": "did you mean '!='?", "**": "there is no power operator; multiply instead, e.g. x * x",
    "//": "divide with / and use round() if needed", "=": "use == to compare", "!": "use not",
    "&": "use and", "|": "use or", "^": "there is no power operator; multiply instead, e.g. x * x",
    ";": "an expression is a single formula; remove the ';'", "`": "quote strings with ' or \"",
    "≥": "did you mean '>='?", "≤": "did you mean '<='?", "≠": "did you mean '!='?",
    "−": "did you mean '-'?", "×": "did you mean '*'?", "÷": "did you mean '/'?",
    **dict.fromkeys("[]", "indexing is not supported"), **dict.fromkeys("{}", "braces are not supported"),
    **dict.fromkeys("“”‘’", "use straight quotes ' or \""),
}


class ExprError(MlspecError):
    """A syntax/semantic error in an expression, with the character offset and length of the culprit
    inside the expression text."""

    def __init__(self, message: str, offset: int, length: int = 1, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.offset = offset
        self.length = max(1, length)
        self.args = (message, offset, length, hint)  # every field, so the error pickles across processes


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "name", "keyword", "number", "string", "op" or "end"
    text: str  # exactly as written in the source
    offset: int
    value: object = None  # decoded value of numbers and strings

    @property
    def length(self) -> int:
        return max(1, len(self.text))


def _describe_char(char: str) -> str:
    if char.isascii() and char.isprintable():
        return f"'{char}'"
    # Invisible and look-alike characters get their code point and Unicode name so people can find them.
    shown = f"'{char}' " if char.isprintable() and not char.isspace() else ""
    name = unicodedata.name(char, "")
    return f"{shown}(U+{ord(char):04X}{' ' + name if name else ''})"


def _match(pattern: re.Pattern[str], text: str, start: int) -> re.Match[str]:
    """The pattern's match at `start`, which the lexer's dispatch on the first character guarantees."""
    found = pattern.match(text, start)
    assert found is not None, (pattern.pattern, start)
    return found


def _lex_name(text: str, start: int) -> _Token:
    name = _match(_NAME_RE, text, start).group()
    if len(name) > MAX_NAME_CHARS:
        raise ExprError(f"name is longer than {MAX_NAME_CHARS} characters", start, len(name))
    if name.startswith("__"):
        raise ExprError(f"names starting with '__' are not allowed: '{name}'", start, len(name))
    return _Token("keyword" if name in KEYWORDS else "name", name, start)


def _lex_number(text: str, start: int) -> _Token:
    end = _match(_NUMBER_RE, text, start).end()
    literal = text[start : _match(_NUMBER_TAIL_RE, text, end).end()]
    if len(literal) > end - start:
        raise ExprError(f"malformed number '{literal}'", start, len(literal),
                        "numbers are decimal, like 1, 1.5, .5 or 1e-3, without '_' separators")
    if len(literal) > MAX_NUMBER_CHARS:
        raise ExprError(f"number is longer than {MAX_NUMBER_CHARS} characters", start, len(literal))
    if re.match(r"0[0-9]", literal):
        raise ExprError(f"leading zeros are not allowed in '{literal}'", start, len(literal),
                        "write numbers without leading zeros, e.g. 7 or 0.5")
    is_float = any(char in literal for char in ".eE")
    value = float(literal) if is_float else int(literal)
    if not math.isfinite(value) or (not is_float and value >= 2**63):  # the manifest's JSON holds 64-bit integers
        raise ExprError(f"number '{literal}' is too large", start, len(literal))
    return _Token("number", literal, start, value)


def _lex_string(text: str, start: int) -> _Token:
    quote = text[start]
    decoded: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            if len(decoded) > MAX_STRING_CHARS:
                message = f"string is longer than {MAX_STRING_CHARS} characters"
                raise ExprError(message, start, pos + 1 - start)
            return _Token("string", text[start : pos + 1], start, "".join(decoded))
        if char == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped not in ("\\", '"', "'"):
                raise ExprError("unsupported escape sequence in string", pos, len(escaped) + 1,
                                "only \\\\, \\\" and \\' are allowed inside strings")
            decoded.append(escaped)
            pos += 2
            continue
        if char in "\r\n":
            raise ExprError("string is not closed on its line", start, 1, f"add a closing {quote}")
        # Control and format characters (bidi overrides among them) make a string look unlike what it is.
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            raise ExprError(f"strings cannot contain the invisible character {_describe_char(char)}", pos, 1)
        decoded.append(char)
        pos += 1
    raise ExprError("string is never closed", start, 1, f"add a closing {quote}")


def _lex_symbol(text: str, start: int) -> _Token:
    for candidate in (text[start : start + 2], text[start]):
        if candidate in _OPERATORS:
            return _Token("op", candidate, start)
        if candidate in _FOREIGN_SYMBOLS:
            hint = _FOREIGN_SYMBOLS[candidate]
            raise ExprError(f"'{candidate}' is not allowed", start, len(candidate), hint)
    raise ExprError(f"unexpected character {_describe_char(text[start])}", start, 1)


def _tokenize(text: str, what: str) -> list[_Token]:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ExprError(f"{what} is longer than {MAX_TEXT_CHARS} characters", MAX_TEXT_CHARS,
                        len(text) - MAX_TEXT_CHARS, "split it into smaller pieces")
    if all(char in _WHITESPACE for char in text):
        raise ExprError(f"{what} is empty", 0, 1)
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos == len(text):
            tokens.append(_Token("end", "", pos))
            return tokens
        if len(tokens) == MAX_TOKENS:
            message = f"{what} has more than {MAX_TOKENS} tokens"
            raise ExprError(message, pos, 1, "split it into smaller pieces")
        char = text[pos]
        if char.isascii() and (char.isalpha() or char == "_"):
            token = _lex_name(text, pos)
        elif char in _DIGITS or (char == "." and text[pos + 1 : pos + 2] in _DIGITS):
            token = _lex_number(text, pos)
        elif char in "\"'":
            token = _lex_string(text, pos)
        else:
            token = _lex_symbol(text, pos)
        tokens.append(token)
        pos += len(token.text)


class _Parser:
    """Recursive descent over a token list. `depth` counts open parentheses, calls and prefix
    operators, so hostile nesting fails with ExprError long before Python's recursion limit."""

    def __init__(self, text: str, what: str):
        self.text = text
        self.what = what  # "expression" or "requirement", for messages
        self.tokens = _tokenize(text, what)
        self.pos = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)  # the end token is sticky
        return token

    def at(self, *texts: str) -> bool:
        return self.current.kind in ("op", "keyword") and self.current.text in texts

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"{self.what} is nested too deeply (more than {MAX_DEPTH} levels)",
                            token.offset, token.length, "simplify it or split it into several features")

    def unexpected(self, expected: str) -> ExprError:
        token = self.current
        if token.kind == "end":
            return ExprError(expected, token.offset, 1)
        shown = token.text if len(token.text) <= 24 else token.text[:20] + "..."
        hint = None
        if token.kind == "name" and token.text.lower() in KEYWORDS:
            hint = f"keywords are lowercase: write '{token.text.lower()}'"
        elif self.what == "expression" and token.text == "not" and token.kind == "keyword":
            hint = "put 'not ...' in parentheses"
        elif self.what == "expression" and token.text == "." and token.kind == "op":
            hint = _NO_ATTRIBUTES
        return ExprError(f"{expected}, found '{shown}'", token.offset, token.length, hint)

    def left_associative(self, parse_operand: Callable[[], dict], ops: dict[str, str]) -> dict:
        node = parse_operand()
        while self.at(*ops):
            node = {"op": ops[self.advance().text], "args": [node, parse_operand()]}
        return node

    def prefix(self, symbol: str, op: str, parse_other: Callable[[], dict]) -> dict:
        # The operand of a prefix operator is parsed by the same rule, so 'not not x' and '--x' work.
        if not self.at(symbol):
            return parse_other()
        self.enter(self.advance())
        node = {"op": op, "args": [self.prefix(symbol, op, parse_other)]}
        self.depth -= 1
        return node

    def parse_or(self) -> dict:
        return self.left_associative(self.parse_and, {"or": "or"})

    def parse_and(self) -> dict:
        return self.left_associative(self.parse_not, {"and": "and"})

    def parse_not(self) -> dict:
        return self.prefix("not", "not", self.parse_comparison)

    def parse_comparison(self) -> dict:
        left = self.parse_sum()
        if not self.at(*_COMPARISONS):
            return left
        first = self.advance()
        middle = self.parse_sum()
        if not self.at(*_COMPARISONS):
            return {"op": _COMPARISONS[first.text], "args": [left, middle]}
        second = self.advance()
        hint = "write a < b and b < c"
        try:  # Best effort only: show the user's own operands in the suggested rewrite.
            a, b, c = render(left), render(middle), render(self.parse_sum())
            hint = f"write {a} {first.text} {b} and {b} {second.text} {c}"
        except ExprError:
            pass
        raise ExprError("comparisons cannot be chained", second.offset, second.length, hint)

    def parse_sum(self) -> dict:
        return self.left_associative(self.parse_product, _SUM_OPS)

    def parse_product(self) -> dict:
        return self.left_associative(self.parse_unary, _PRODUCT_OPS)

    def parse_unary(self) -> dict:
        return self.prefix("-", "neg", self.parse_atom)

    def parse_atom(self) -> dict:
        token = self.current
        if token.kind in ("number", "string"):
            self.advance()
            return {"num" if token.kind == "number" else "str": token.value}
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.advance()
            return {"bool": token.text == "true"}
        if token.kind == "name":
            self.advance()
            if self.at("("):
                return self.parse_call(token)
            if self.at("."):
                end = self.advance().offset + 1
                end += len(self.current.text) if self.current.kind == "name" else 0
                raise ExprError(f"'{self.text[token.offset : end]}' uses attribute access", token.offset,
                                end - token.offset, _NO_ATTRIBUTES)
            return {"col": token.text}
        if self.at("("):
            self.enter(self.advance())
            node = self.parse_or()
            self.expect_close(token, "expected ')' or an operator")
            self.depth -= 1
            return node
        previous = self.tokens[self.pos - 1] if self.pos > 0 else None
        raise self.unexpected("expected a value" + (f" after '{previous.text}'" if previous else ""))

    def parse_call(self, name: _Token) -> dict:
        if name.text not in FUNCTIONS:
            close = difflib.get_close_matches(name.text.lower(), FUNCTIONS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known functions: " + ", ".join(FUNCTIONS)
            raise ExprError(f"unknown function '{name.text}'", name.offset, name.length, hint)
        opening = self.advance()
        self.enter(name)
        starts = [] if self.at(")") else [self.current.offset]
        args = [] if self.at(")") else [self.parse_or()]
        while args and self.at(","):
            self.advance()
            starts.append(self.current.offset)
            args.append(self.parse_or())
        self.expect_close(opening, "expected ',' or ')'")
        self.depth -= 1
        low, high = FUNCTIONS[name.text]
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            plural = "" if high == 1 else "s"
            raise ExprError(f"{name.text}() takes {wanted} argument{plural}, got {len(args)}", name.offset, name.length)
        if name.text == "round" and len(args) == 2 and round_digits(args[1]) is None:
            end = self.tokens[self.pos - 1].offset  # the closing ')'
            written = self.text[starts[1] : end].rstrip()
            raise ExprError(f"round()'s digits must be a whole number from -{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}, "
                            f"not '{written}'", starts[1], len(written),
                            "write the digits as a number, e.g. round(x, 2), or round(x, -3) for thousands")
        return {"op": "call", "fn": name.text, "args": args}

    def expect_close(self, opening: _Token, expected: str) -> None:
        if self.at(")"):
            self.advance()
        elif self.current.kind == "end":
            # The opening parenthesis is the useful place to point at; the end is only where we noticed.
            raise ExprError("'(' is never closed", opening.offset, 1, "add a matching ')'")
        else:
            raise self.unexpected(expected)

    def expect_end(self, expected: str) -> None:
        if self.current.kind == "end":
            return
        if self.at(")"):
            raise ExprError("unmatched ')'", self.current.offset, 1, "remove it or add a matching '('")
        raise self.unexpected(expected)


def round_digits(node: dict) -> int | None:
    """round()'s digits when `node` is a whole number within bounds (`2`, `-3`, `1e1`), else None.

    The runtime rounds every row to one number of digits: a column there would be read from its first row
    only (the DuckDB engine refused it), a fraction was cut silently, and a huge number overflowed numpy."""
    sign = 1
    if node.get("op") == "neg" and len(node["args"]) == 1:
        sign, node = -1, node["args"][0]
    value = node.get("num")
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_ROUND_DIGITS:
        value = int(value)
    if isinstance(value, int) and abs(value) <= MAX_ROUND_DIGITS:
        return sign * value
    return None


def parse_expression(text: str) -> dict:
    """Parse a feature expression or row check into a JSON-serialisable AST of plain dicts.

    Leaves are ``{"col": name}``, ``{"num": int | float}``, ``{"str": text}`` and ``{"bool": b}``;
    operators are ``{"op": name, "args": [...]}`` and calls ``{"op": "call", "fn": name, "args": [...]}``.
    Raises ExprError for any problem in the text. Each call returns a fresh tree (parses are cached as
    text, because large projects repeat the same expressions many times).
    """
    return json.loads(_parse_expression_json(text))


@functools.lru_cache(maxsize=8192)
def _parse_expression_json(text: str) -> str:
    parser = _Parser(text, "expression")
    node = parser.parse_or()
    parser.expect_end("expected an operator")
    return json.dumps(node)


def _walk(ast: dict) -> Iterator[dict]:
    # An explicit stack, so that a hand-built AST of any depth cannot exhaust the Python stack.
    stack = [ast]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("args", ()))


def columns_of(ast: dict) -> list[str]:
    """Return the sorted, de-duplicated names of the columns an AST refers to."""
    return sorted({node["col"] for node in _walk(ast) if "col" in node})


def functions_of(ast: dict) -> list[str]:
    """Return the sorted, de-duplicated names of the functions an AST calls."""
    return sorted({node["fn"] for node in _walk(ast) if node.get("op") == "call"})


def render(ast: dict) -> str:
    """Render an AST as canonical text: single spaces around binary operators and parentheses only
    where precedence needs them, so that equivalent spellings render identically. The result parses
    back to the same AST as long as it stays within the size limits."""
    op = ast.get("op")
    if op is None:
        if "col" in ast:
            return ast["col"]
        if "bool" in ast:
            return "true" if ast["bool"] else "false"
        if "str" in ast:
            return '"' + ast["str"].replace("\\", "\\\\").replace('"', '\\"') + '"'
        if "num" in ast:
            return repr(ast["num"]) if isinstance(ast["num"], float) else str(ast["num"])
        raise ValueError(f"not an expression node: {ast!r}")
    args = ast["args"]
    if op == "call":
        return f"{ast['fn']}({', '.join(render(arg) for arg in args)})"
    level = _PRECEDENCE[op]
    if op in ("neg", "not"):
        return ("-" if op == "neg" else "not ") + _render_operand(args[0], _level(args[0]) < level)
    left, right = args
    # Comparisons do not chain, so a comparison on the left needs parentheses too; everything else is
    # left-associative, so only the right side needs them at equal precedence.
    left_needs_parens = _level(left) < level or level == _COMPARISON_LEVEL == _level(left)
    right_text = _render_operand(right, _level(right) <= level)
    return f"{_render_operand(left, left_needs_parens)} {_SYMBOLS[op]} {right_text}"


def _level(node: dict) -> int:
    return _PRECEDENCE.get(node.get("op", ""), _ATOM_LEVEL)


def _render_operand(node: dict, needs_parens: bool) -> str:
    return f"({render(node)})" if needs_parens else render(node)

__all__ = ["FUNCTIONS", "KEYWORDS", "ExprError", "columns_of", "functions_of",
           "parse_expression", "render"]
