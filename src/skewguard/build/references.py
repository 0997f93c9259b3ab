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
from typing import NamedTuple

from .import_hook import DYNAMIC_IMPORT


class Reference(NamedTuple):  # a tuple: cheap to send back from a worker process
    start: int  # byte offset of the URL text (without quotes)
    end: int
    url: str
    line: int
    kind: str  # "url", "import", "sourcemap", "module", DYNAMIC_IMPORT


def _with_lines(data: bytes, found: list[tuple[int, int, str]]) -> list[Reference]:
    refs = []
    line, last = 1, 0
    for start, end, kind in found:
        line += data.count(b"\n", last, start)
        last = start
        url = "" if kind == DYNAMIC_IMPORT else data[start:end].decode("utf-8", "surrogateescape")
        refs.append(Reference(start, end, url, line, kind))
    return refs


# --- CSS -------------------------------------------------------------------------------------------

# Consumed inside the regex engine: everything that cannot start a reference, string literals
# included, and escapes (a selector such as ``.bg-\[url\(\'a.png\'\)\]`` opens no string). It
# stops at a comment, at "url(" (any case) and at "@import".
_CSS_SKIP = re.compile(
    rb"""(?:
          [^/"'uU@\\]++
        | \\[\s\S]
        | "[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"?
        | '[^'\\\n]*+(?:\\.[^'\\\n]*+)*+'?
        | /(?!\*)
        | [uU](?![rR][lL]\()
        | (?<=[\w-])[uU]
        | @(?!import\b)
    )*+""",
    re.VERBOSE | re.DOTALL,
)
_CSS_COMMENT = re.compile(rb"/\*[^*]*+(?:\*(?!/)[^*]*+)*+(?:\*/)?")
_CSS_URL = re.compile(
    rb"""url\(\s*(?: "(?P<u_dq>[^"\\\n]*)" | '(?P<u_sq>[^'\\\n]*)' | (?P<u_raw>[^'"()\\\s]*) )\s*\)""",
    re.VERBOSE | re.IGNORECASE,
)
_CSS_IMPORT = re.compile(
    rb"""@import\s+(?: "(?P<i_dq>[^"\\\n]*)" | '(?P<i_sq>[^'\\\n]*)' )""", re.VERBOSE
)
_CSS_SOURCEMAP = re.compile(rb"/\*[#@]\s*sourceMappingURL=(?P<url>[^\s*]+)\s*\*/")


def find_css_references(data: bytes) -> list[Reference]:
    found: list[tuple[int, int, str]] = []
    pos, size = 0, len(data)
    while True:
        pos = _CSS_SKIP.match(data, pos).end()  # type: ignore[union-attr] # matches "" too
        if pos >= size:
            break
        c = data[pos]
        if c == 0x2F:  # "/*"
            comment = _CSS_COMMENT.match(data, pos)
            assert comment is not None  # "/*" always starts one (unterminated: to the end)
            sm = _CSS_SOURCEMAP.match(comment.group())
            if sm:
                found.append((pos + sm.start("url"), pos + sm.end("url"), "sourcemap"))
            pos = comment.end()
        elif c == 0x40:  # "@import"
            m = _CSS_IMPORT.match(data, pos)
            if m:
                group = "i_dq" if m.group("i_dq") is not None else "i_sq"
                found.append((m.start(group), m.end(group), "import"))
                pos = m.end()
            else:
                pos += 7
        else:  # "url("
            m = _CSS_URL.match(data, pos)
            if m:
                group = (
                    "u_dq"
                    if m.group("u_dq") is not None
                    else "u_sq"
                    if m.group("u_sq") is not None
                    else "u_raw"
                )
                found.append((m.start(group), m.end(group), "url"))
                pos = m.end()
            else:
                pos += 4
    return _with_lines(data, found)


# --- JavaScript ------------------------------------------------------------------------------------


# Consumes, inside the regex engine, everything that cannot start a reference: code, string
# literals, block comments, line comments other than "//#" and "//@", and identifiers other than
# the keywords. It stops only where a decision is needed: "/", "`", a keyword, "//#", (inside
# a template literal's ${...}) braces, and (inside a dynamic import call) parentheses.
# Possessive quantifiers: no backtracking on huge bundles; strings and comments as "unrolled
# loops" (a run of ordinary bytes, then one escape at a time): the engine's tight loop for a
# character class runs six times faster than an alternation per byte.
_JS_SKIP = rb"""(?:
      [^/'"`\w$%s]++
    | (?!(?:import|export)(?![\w$]))[\w$]++
    | '[^'\\\n\r]*+(?:\\[\s\S][^'\\\n\r]*+)*+'?
    | "[^"\\\n\r]*+(?:\\[\s\S][^"\\\n\r]*+)*+"?
    | /\*[^*]*+(?:\*(?!/)[^*]*+)*+(?:\*/)?
    | //(?![#@])[^\n\r]*+
)*+"""
_JS_SKIP_CODE = re.compile(_JS_SKIP % b"", re.VERBOSE | re.DOTALL)
_JS_SKIP_IN_SUBSTITUTION = re.compile(_JS_SKIP % b"{}", re.VERBOSE | re.DOTALL)
_JS_SKIP_IN_CALL = re.compile(_JS_SKIP % b"()", re.VERBOSE | re.DOTALL)
# What the lexer is inside of, innermost last: a template literal's ${...} (counting braces) or a
# dynamic import call (counting parentheses).
_SUBSTITUTION, _CALL = 0, 1
_TEMPLATE_BODY = re.compile(rb"[^`\\$]*+(?:(?:\\[\s\S]|\$(?!\{))[^`\\$]*+)*+(?P<end>`|\$\{)?")
_REGEX_LITERAL = re.compile(rb"/(?![*/])(?:[^/\\\[\n\r]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+/[a-z]*")
_JS_SOURCEMAP = re.compile(rb"//[#@]\s*sourceMappingURL=(?P<url>\S+)")
# A source map comment on a line of its own, where bundlers put it.
_JS_SOURCEMAP_LINE = re.compile(rb"^[ \t]*//[#@][ \t]*sourceMappingURL=(?P<url>\S+)", re.MULTILINE)

_SPEC = rb"""\s*(?:"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)')"""
_IMPORT_FORMS = [
    # import "x";  import x from "x";  import {a as b}, * as c from "x"
    re.compile(
        rb"import\s*(?:(?:[\w$]+\s*,?\s*)?(?:\*\s*as\s+[\w$]+|\{[^}]*\})?\s*from)?" + _SPEC,
        re.VERBOSE,
    ),
    re.compile(rb"import\s*\(" + _SPEC + rb"\s*[,)]", re.VERBOSE),  # import("x")
]
_EXPORT_FORM = re.compile(
    rb"export\s*(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from" + _SPEC, re.VERBOSE
)
_MODULE_FORMS = (*_IMPORT_FORMS, _EXPORT_FORM)
_IMPORT_CALL = re.compile(rb"import\s*\(")
# After a method named "import" ({ import(x) { ... } }) comes its body; after a call, never "{".
_BODY_FOLLOWS = re.compile(rb"(?:\s++|/\*[^*]*+(?:\*(?!/)[^*]*+)*+\*/|//[^\n\r]*+)*+\{")
# After these words an expression starts, so "/" opens a regex literal rather than dividing.
_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    b"return typeof instanceof in of new delete void throw case do else yield await".split()
)
_IDENT_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_KEYWORD_BLOCKERS = _IDENT_BYTES | {ord(".")}  # "obj.import(", "reimport(" are not keywords


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


def _member_name(data: bytes, pos: int) -> bool:
    """Whether the word at ``pos`` follows "." or "#" (``obj\n  .import(``, ``this.#import(``)."""
    i = pos - 1
    while i >= 0 and data[i] in b" \t\r\n":
        i -= 1
    return i >= 0 and data[i] in b".#"


def find_js_references(
    data: bytes, *, es_modules: bool = True, dynamic_imports: bool = False
) -> list[Reference]:
    """References in JavaScript: module specifiers (``es_modules``), source map comments, and
    with ``dynamic_imports`` every dynamic import call, whatever its argument (DYNAMIC_IMPORT)."""
    modules = es_modules and any(form.search(data) for form in _MODULE_FORMS)
    if not modules and not (dynamic_imports and _IMPORT_CALL.search(data)):
        # Without a single import/export form anywhere (even inside strings), only a source map
        # comment can be a reference, and only one that starts a line: a string cannot span
        # lines. Skipping the tokenizer here is what keeps multi-megabyte UMD bundles cheap, and
        # a plain substring test first spares them the line-by-line scan too (40x cheaper).
        if b"sourceMappingURL=" not in data:
            return []
        maps = [
            (m.start("url"), m.end("url"), "sourcemap") for m in _JS_SOURCEMAP_LINE.finditer(data)
        ]
        return _with_lines(data, maps)
    found: list[tuple[int, int, str] | None] = []  # None: a call still open, or not wrapped
    nest: list[list[int]] = []  # [_SUBSTITUTION, braces] or [_CALL, parentheses, start, index]
    pos, size = 0, len(data)
    while True:
        inside = nest[-1][0] if nest else None
        skip = (
            _JS_SKIP_CODE
            if inside is None
            else _JS_SKIP_IN_SUBSTITUTION
            if inside == _SUBSTITUTION
            else _JS_SKIP_IN_CALL
        )
        pos = skip.match(data, pos).end()  # type: ignore[union-attr] # matches "" too
        if pos >= size:
            break
        c = data[pos]
        if c == 0x2F:  # "/"
            if data.startswith(b"//", pos):  # "//#" or "//@": maybe a source map comment
                sm = _JS_SOURCEMAP.match(data, pos)
                if sm:
                    found.append((sm.start("url"), sm.end("url"), "sourcemap"))
                line_end = data.find(b"\n", pos)
                pos = size if line_end == -1 else line_end
            elif _regex_may_start(data, pos):
                rm = _REGEX_LITERAL.match(data, pos)
                pos = rm.end() if rm else pos + 1
            else:
                pos += 1
        elif c == 0x60:  # "`"
            pos = _scan_template(data, pos + 1, nest)
        elif c == 0x7B or c == 0x28:  # "{" inside a substitution, "(" inside an import call
            nest[-1][1] += 1
            pos += 1
        elif c == 0x7D or c == 0x29:  # "}" inside a substitution, ")" inside an import call
            pos += 1
            if nest[-1][1]:
                nest[-1][1] -= 1
            elif c == 0x7D:  # the substitution ends: back inside the template literal
                nest.pop()
                pos = _scan_template(data, pos, nest)
            else:  # the import call ends
                _, _, start, index = nest.pop()
                if not _BODY_FOLLOWS.match(data, pos):
                    found[index] = (start, pos, DYNAMIC_IMPORT)
        else:  # "import" or "export"
            keyword = pos == 0 or data[pos - 1] not in _KEYWORD_BLOCKERS
            call = _IMPORT_CALL.match(data, pos) if dynamic_imports and keyword else None
            if call and not _member_name(data, pos):
                nest.append([_CALL, 0, pos, len(found)])
                found.append(None)  # filled in when the call's ")" is found
                fm = _IMPORT_FORMS[1].match(data, pos) if es_modules else None
                if fm:
                    group = "dq" if fm.group("dq") is not None else "sq"
                    found.append((fm.start(group), fm.end(group), "module"))
                    pos = fm.end(group) + 1  # past the closing quote
                else:
                    pos = call.end()
            elif es_modules and keyword:
                forms = _IMPORT_FORMS if c == 0x69 else (_EXPORT_FORM,)
                for form in forms:
                    fm = form.match(data, pos)
                    if fm:
                        group = "dq" if fm.group("dq") is not None else "sq"
                        found.append((fm.start(group), fm.end(group), "module"))
                        pos = fm.end(group) + 1  # past the closing quote
                        break
                else:
                    pos += 6
            else:
                pos += 6
    # A call never closed (a truncated file, or text the lexer misread) is left as it is.
    return _with_lines(data, [f for f in found if f is not None])


def _scan_template(data: bytes, pos: int, nest: list[list[int]]) -> int:
    m = _TEMPLATE_BODY.match(data, pos)
    assert m is not None  # the pattern matches the empty string
    if m.group("end") == b"${":
        nest.append([_SUBSTITUTION, 0])
    elif m.group("end") is None:
        return len(data)  # unterminated template literal
    return m.end()
