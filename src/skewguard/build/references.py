"""Finding asset references in CSS and JavaScript with tokenizers that know comments and strings.

Regex-only rewriters (Django's collectstatic among them) match ``url(...)`` inside comments and
string literals; real themes ship such text and the build then fails or rewrites the wrong thing.
Here each language is scanned left to right with one alternation whose branches are the lexical
states that can hide a reference (comments, strings, template literals, regex literals), so text
is only ever taken as a reference in the position the language gives it.

Everything works on bytes: a file need not be valid UTF-8 for its references to be rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reference:
    start: int  # byte offset of the URL text (without quotes)
    end: int
    url: str
    line: int
    kind: str  # "url", "import", "sourcemap", "module"


def _with_lines(data: bytes, found: list[tuple[int, int, str]]) -> list[Reference]:
    refs = []
    line, last = 1, 0
    for start, end, kind in found:
        line += data.count(b"\n", last, start)
        last = start
        refs.append(Reference(start, end, data[start:end].decode("utf-8", "surrogateescape"), line, kind))
    return refs


# --- CSS -------------------------------------------------------------------------------------------

_CSS_TOKEN = re.compile(
    rb"""
      (?P<comment>/\*.*?(?:\*/|\Z))
    | (?P<url>(?<![\w-])url\(\s*
          (?: "(?P<u_dq>[^"\\\n]*)" | '(?P<u_sq>[^'\\\n]*)' | (?P<u_raw>[^'"()\\\s]*) )
          \s*\))
    | (?P<import>@import\s+(?: "(?P<i_dq>[^"\\\n]*)" | '(?P<i_sq>[^'\\\n]*)' ))
    | (?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)
_CSS_SOURCEMAP = re.compile(rb"/\*[#@]\s*sourceMappingURL=(?P<url>[^\s*]+)\s*\*/")


def find_css_references(data: bytes) -> list[Reference]:
    found: list[tuple[int, int, str]] = []
    for m in _CSS_TOKEN.finditer(data):
        kind = m.lastgroup
        if kind == "comment":
            sm = _CSS_SOURCEMAP.match(m.group())
            if sm:
                found.append((m.start() + sm.start("url"), m.start() + sm.end("url"), "sourcemap"))
        elif kind == "url":
            group = "u_dq" if m.group("u_dq") is not None else "u_sq" if m.group("u_sq") is not None else "u_raw"
            found.append((m.start(group), m.end(group), "url"))
        elif kind == "import":
            group = "i_dq" if m.group("i_dq") is not None else "i_sq"
            found.append((m.start(group), m.end(group), "import"))
    return _with_lines(data, found)


# --- JavaScript ------------------------------------------------------------------------------------

# Cheap pre-check: no ES module syntax and no source map comment means nothing to find.
_JS_MAYBE = re.compile(rb"(?<![\w$.])(?:import|export)(?![\w$])|sourceMappingURL")

_JS_COMMON = rb"""
      (?P<line_comment>//[^\n\r]*)
    | (?P<block_comment>/\*.*?(?:\*/|\Z))
    | (?P<string>"(?:[^"\\\n\r]|\\[\s\S])*"?|'(?:[^'\\\n\r]|\\[\s\S])*'?)
    | (?P<template>`)
    | (?P<slash>/)
    | (?P<keyword>(?<![\w$.])(?:import|export)(?![\w$]))
"""
_JS_TOKEN = re.compile(_JS_COMMON, re.VERBOSE | re.DOTALL)
# Inside a template literal's ${...}: braces must be counted to find where the code ends.
_JS_TOKEN_IN_SUBSTITUTION = re.compile(
    _JS_COMMON + rb"| (?P<open_brace>\{) | (?P<close_brace>\})", re.VERBOSE | re.DOTALL
)
_TEMPLATE_BODY = re.compile(rb"(?:[^`\\$]|\\[\s\S]|\$(?!\{))*(?P<end>`|\$\{)?")
_REGEX_LITERAL = re.compile(rb"/(?![*/])(?:[^/\\\[\n\r]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+/[a-z]*")
_JS_SOURCEMAP = re.compile(rb"//[#@]\s*sourceMappingURL=(?P<url>\S+)")

_SPEC = rb"""\s*(?:"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)')"""
_IMPORT_FORMS = [
    # import "x";  import x from "x";  import {a as b}, * as c from "x"
    re.compile(
        rb"import\s*(?:(?:[\w$]+\s*,?\s*)?(?:\*\s*as\s+[\w$]+|\{[^}]*\})?\s*from)?" + _SPEC, re.VERBOSE
    ),
    re.compile(rb"import\s*\(" + _SPEC + rb"\s*[,)]", re.VERBOSE),  # import("x")
]
_EXPORT_FORM = re.compile(
    rb"export\s*(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from" + _SPEC, re.VERBOSE
)
# After these words an expression starts, so "/" opens a regex literal rather than dividing.
_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    b"return typeof instanceof in of new delete void throw case do else yield await".split()
)
_IDENT_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def _regex_may_start(data: bytes, pos: int) -> bool:
    i = pos - 1
    while i >= 0 and data[i] in b" \t\r\n":
        i -= 1
    if i < 0:
        return True
    c = data[i]
    if c in b")]'\"`":
        return False
    if c in _IDENT_BYTES or c >= 0x80:
        j = i
        while j >= 0 and (data[j] in _IDENT_BYTES or data[j] >= 0x80):
            j -= 1
        return data[j + 1 : i + 1] in _KEYWORDS_BEFORE_EXPRESSION
    return True  # punctuation or operator (including "}", which mostly ends a block)


def find_js_references(data: bytes, *, es_modules: bool = True) -> list[Reference]:
    if not _JS_MAYBE.search(data):
        return []
    found: list[tuple[int, int, str]] = []
    substitutions: list[int] = []  # open ${ ... } substitutions, each with its brace depth
    pos, size = 0, len(data)
    while pos < size:
        m = (_JS_TOKEN_IN_SUBSTITUTION if substitutions else _JS_TOKEN).search(data, pos)
        if m is None:
            break
        kind, start, pos = m.lastgroup, m.start(), m.end()
        if kind == "line_comment":
            sm = _JS_SOURCEMAP.match(data, start)
            if sm:
                found.append((sm.start("url"), sm.end("url"), "sourcemap"))
        elif kind == "slash":
            if _regex_may_start(data, start):
                rm = _REGEX_LITERAL.match(data, start)
                if rm:
                    pos = rm.end()
        elif kind == "keyword":
            if es_modules:
                forms = _IMPORT_FORMS if data[start] == ord("i") else (_EXPORT_FORM,)
                for form in forms:
                    fm = form.match(data, start)
                    if fm:
                        group = "dq" if fm.group("dq") is not None else "sq"
                        found.append((fm.start(group), fm.end(group), "module"))
                        pos = fm.end(group) + 1
                        break
        elif kind == "template":
            pos = _scan_template(data, pos, substitutions)
        elif kind == "open_brace":
            substitutions[-1] += 1
        elif kind == "close_brace":
            if substitutions[-1]:
                substitutions[-1] -= 1
            else:  # the substitution ends: back inside the template literal
                substitutions.pop()
                pos = _scan_template(data, pos, substitutions)
    return _with_lines(data, found)


def _scan_template(data: bytes, pos: int, substitutions: list[int]) -> int:
    m = _TEMPLATE_BODY.match(data, pos)
    assert m is not None  # the pattern matches the empty string
    if m.group("end") == b"${":
        substitutions.append(0)
    elif m.group("end") is None:
        return len(data)  # unterminated template literal
    return m.end()
