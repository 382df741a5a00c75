"""A reader for the jail.conf(5) subset the simulator needs.

jail.conf(5): jail definitions `name { param; param = value; param += value; }`, parameters outside any
definition apply to every jail, values are single tokens or quoted strings (variables expanded in double
quotes and bare tokens, not in single quotes), comma lists, comments `#`, `//` and `/* */`, and `$name` /
`${name}` substitution of the jail's own parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SPECIAL = set(";{}=,\"'")


class ConfError(Exception):
    pass


@dataclass
class Token:
    kind: str  # word, string, sym
    text: str
    expand: bool = True


@dataclass
class ConfJail:
    name: str
    # Parameter name -> list of values (empty list for a valueless boolean), in definition order.
    params: dict[str, list[str]] = field(default_factory=dict)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ConfError("unterminated comment")
            i = end + 2
        elif text.startswith("+=", i):
            tokens.append(Token("sym", "+="))
            i += 2
        elif c in ";{}=,":
            tokens.append(Token("sym", c))
            i += 1
        elif c in "\"'":
            j = i + 1
            out = []
            while j < len(text) and text[j] != c:
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                out.append(text[j])
                j += 1
            if j >= len(text):
                raise ConfError("unterminated quoted string")
            tokens.append(Token("string", "".join(out), expand=c == '"'))
            i = j + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in SPECIAL and not text.startswith("+=", j):
                j += 1
            tokens.append(Token("word", text[i:j]))
            i = j
    return tokens


def parse(text: str) -> list[ConfJail]:
    tokens = tokenize(text)
    pos = 0
    globals_: list[tuple[str, str, list[Token]]] = []
    jails: list[tuple[str, list[tuple[str, str, list[Token]]]]] = []

    def statement(at: int) -> tuple[tuple[str, str, list[Token]], int]:
        name = tokens[at].text
        at += 1
        op = ""
        values: list[Token] = []
        if at < len(tokens) and tokens[at].text in ("=", "+="):
            op = tokens[at].text
            at += 1
            while at < len(tokens) and tokens[at].text != ";":
                if tokens[at].text != ",":
                    values.append(tokens[at])
                at += 1
        if at >= len(tokens) or tokens[at].text != ";":
            raise ConfError(f"syntax error near {name}")
        return (name, op, values), at + 1

    while pos < len(tokens):
        if pos + 1 < len(tokens) and tokens[pos + 1].text == "{":
            jail_name = tokens[pos].text
            pos += 2
            body = []
            while pos < len(tokens) and tokens[pos].text != "}":
                item, pos = statement(pos)
                body.append(item)
            if pos >= len(tokens):
                raise ConfError(f"missing }} for {jail_name}")
            pos += 1
            jails.append((jail_name, body))
        else:
            item, pos = statement(pos)
            globals_.append(item)

    result = []
    for jail_name, body in jails:
        if jail_name == "*":
            continue
        conf = ConfJail(jail_name, {"name": [jail_name]})
        raw: list[tuple[str, str, list[Token]]] = [*globals_, *body]
        for name, op, values in raw:
            expanded = [expand(v, conf.params) for v in values]
            if op == "+=" and name in conf.params:
                conf.params[name].extend(expanded)
            else:
                conf.params[name] = expanded
        result.append(conf)
    return result


def expand(token: Token, params: dict[str, list[str]]) -> str:
    if not token.expand:
        return token.text

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return ",".join(params.get(name, []))

    return re.sub(r"\$\{([^}]+)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, token.text)


def flag(params: dict[str, list[str]], name: str) -> bool:
    """A boolean parameter as jail(8) reads it: `name;`, `name = true`, or `noname` / `allow.noX` for false."""
    if name in params:
        values = params[name]
        return not values or values[-1].lower() not in ("false", "0", "no")
    # Absent, or negated as `noname` / `allow.noX`: off.
    return False


def quoted(value: str) -> str:
    """jail(8)'s quoted_print: quote empty strings and strings with blanks or quotes."""
    qc = '"' if not value or "'" in value else "'" if '"' in value else '"' if (" " in value or "\t" in value) else ""
    escaped = "".join("\\" + c if c == "\\" or (qc and c == qc) else c for c in value)
    return f"{qc}{escaped}{qc}"


def exhibit(conf: ConfJail, separator: str) -> str:
    """One `jail -e separator` line: every parameter, name=value with comma lists, booleans by name."""
    parts = []
    for name, values in conf.params.items():
        parts.append(name + ("=" + ",".join(quoted(v) for v in values) if values else ""))
    return separator.join(parts)
