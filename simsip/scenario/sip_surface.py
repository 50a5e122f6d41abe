"""The `.sip` surface: the Lark parser (LALR, cached), its Transformer and syntax errors.

The grammar (``grammar.lark``) is loaded once per process. Parsing yields the
surface-neutral :class:`~simsip.scenario.raw.Stmt` list; the builder does the
rest. Syntax errors are phrased in SIP terms: parser states are matched
against a table of known slips (Lark's ``match_examples`` idea, precomputed
once), and a misspelt keyword gets a "did you mean". After an error the
offending line (and any block under it) is blanked and parsing restarts, so
one ``simsip check`` reports every broken line.
"""

from __future__ import annotations

import difflib
import functools
import re
import threading
from pathlib import Path
from typing import Any, Iterator

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.indenter import DedentError, Indenter
from lark.lexer import PatternStr

from simsip.scenario.errors import Problem, source_line
from simsip.scenario.model import Span
from simsip.scenario.raw import NAME_RE, Func, Lst, Stmt, Tok

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
STARTS = [
    "start", "value_text", "pair_text", "call_text", "pool_text", "event_text",
    "action_text", "expect_text", "targets_text", "message_text",
]
MAX_SYNTAX_ERRORS = 20


class SipIndenter(Indenter):
    """Turns leading whitespace into _INDENT/_DEDENT for handler blocks."""

    NL_type = "_NL"
    # No implicit joining inside ( ) or [ ]: an unclosed paren then fails on its
    # own line instead of swallowing the rest of the file. `\` joins lines.
    OPEN_PAREN_types: list[str] = []
    CLOSE_PAREN_types: list[str] = []
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


# The Indenter postlexer keeps its indentation stack on the (shared, cached)
# parser, so parses must not interleave: scenarios may be loaded from threads
# (Dask workers). Re-entrant because error reporting parses the examples.
_PARSE_LOCK = threading.RLock()


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The `.sip` parser, built once per process (as python-hcl2 caches its parser)."""
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=SipIndenter(),
        propagate_positions=True,
        maybe_placeholders=False,
        start=STARTS,
    )


_TOKEN_KINDS = {
    "NAME": "word", "QUANTITY": "num", "PARAM": "ref", "URI": "uri", "PATTERN": "pattern",
    "STRING": "str", "LONG_STRING": "str", "COMPARE": "op", "FUNC": "word", "HOST_NUMBER": "word",
}


def _unescape(text: str) -> str:
    """The value of a ``"..."`` literal: backslash escapes \\n \\t \\" \\\\ resolved."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class ToStatements(Transformer):
    """Lark tree -> list of :class:`Stmt` with raw values and spans."""

    def __init__(self, file: str, line_offset: int = 0, col_offset: int = 0) -> None:
        """Spans name ``file``; offsets place a YAML scalar's text inside its file."""
        super().__init__(visit_tokens=True)
        self.file = file
        self.line_offset = line_offset
        self.col_offset = col_offset

    # ---- helpers
    def _span(self, line: int, col: int) -> Span:
        """A span, shifted by the offsets of an embedded text."""
        if line == 1:
            col += self.col_offset
        return Span(self.file, line + self.line_offset, col)

    def _meta_span(self, meta: Any, children: list[Any]) -> Span:
        """The span of a rule: its first token, else the rule's own meta."""
        if not getattr(meta, "empty", True):
            return self._span(meta.line, meta.column)
        for child in children:
            span = getattr(child, "span", None)
            if span is not None:
                return span
        return Span(self.file, 0, 0)

    def __default_token__(self, token: Token) -> Tok:
        """Every token becomes a Tok; keywords get kind ``kw``."""
        kind = _TOKEN_KINDS.get(token.type, "kw")
        text = str(token)
        if token.type == "STRING":
            text = _unescape(text[1:-1])
        elif token.type == "LONG_STRING":
            text = text[3:-3]
        elif token.type == "PARAM":
            text = text[1:]
        return Tok(kind, text, self._span(token.line or 0, token.column or 0))

    @staticmethod
    def _opt(children: list[Any]) -> tuple[Tok, object]:
        """An option: keyword and value (True for a flag; a tuple for two values)."""
        first = children[0]
        if first.kind != "kw":  # a quoted reason after `send`
            return Tok("kw", "reason", first.span), first
        rest = children[1:]
        if not rest:
            return first, True
        if len(rest) == 1:
            return first, rest[0]
        return first, tuple(rest)

    # ---- entry points
    def start(self, children: list[Any]) -> list[Stmt]:
        """The whole file: its statements."""
        return [c for c in children if isinstance(c, Stmt)]

    def value_text(self, children: list[Any]) -> Any:
        """A lone value (YAML scalars)."""
        return children[0]

    def pair_text(self, children: list[Any]) -> tuple[Any, ...]:
        """``a <-> b`` (YAML)."""
        return tuple(children)

    call_text = pair_text
    pool_text = pair_text
    event_text = pair_text

    def action_text(self, children: list[Any]) -> Stmt:
        """One action (YAML)."""
        return children[0]

    def expect_text(self, children: list[Any]) -> Any:
        """An expect body (YAML)."""
        return children[0]

    def targets_text(self, children: list[Any]) -> Any:
        """A list of targets (YAML)."""
        return children[0]

    # ---- generic pieces
    def _list(self, children: list[Any]) -> Lst:
        """A comma-separated list."""
        return Lst(tuple(children), children[0].span if children else Span(self.file, 0, 0))

    hosts = names = targets = tags = creds = _list

    def cred(self, children: list[Any]) -> Lst:
        """``user:password[@realm]`` as a list of two or three tokens."""
        return Lst(tuple(children), children[0].span)

    def cred_realm(self, children: list[Any]) -> Any:
        """The realm after ``@``."""
        return children[0]

    def func(self, children: list[Any]) -> Func:
        """``name(args)``."""
        name = children[0]
        return Func(name, tuple(children[1:]), name.span)

    def func_arg(self, children: list[Any]) -> tuple[Tok | None, Any]:
        """``value`` or ``key=value``."""
        if len(children) == 2:
            return children[0], children[1]
        return None, children[0]

    def _keyword(self, children: list[Any]) -> Tok:
        """A keyword chosen from a fixed set, as a word."""
        return Tok("word", children[0].text, children[0].span)

    transport_name = forking_mode = pick_mode = arrow = drop_all = _keyword

    def _option(self, children: list[Any]) -> tuple[Tok, object]:
        """An option of a statement."""
        return self._opt(children)

    ua_opt = proxy_opt = redirect_opt = b2bua_opt = link_opt = send_opt = _option
    call_opt = calls_opt = reg_opt = request_opt = drop_opt = reinvite_opt = _option

    def reorder_by(self, children: list[Any]) -> Any:
        """``by D`` after ``reorder P``."""
        return children[0]

    def for_value(self, children: list[Any]) -> Any:
        """``for D``."""
        return children[0]

    def auth_value(self, children: list[Any]) -> dict[str, Any]:
        """``realm R [users a:pw, ...]``."""
        return {"realm": children[0], "users": children[1] if len(children) > 1 else None}

    def event_to(self, children: list[Any]) -> Tok:
        """``to METHOD`` after a response event."""
        return children[0]

    def event(self, children: list[Any]) -> tuple[Tok, Tok | None]:
        """An event word and its optional ``to METHOD``."""
        return children[0], children[1] if len(children) > 1 else None

    message = event

    def message_text(self, children: list[Any]) -> Any:
        """A drop's message pattern (YAML)."""
        return children[0]

    def timer_value(self, children: list[Any]) -> tuple[Tok, Any]:
        """``T1=500ms``."""
        return children[0], children[1]

    def pool(self, children: list[Any]) -> Any:
        """A name, pattern, URI or ``[list]``."""
        return children[0]

    def expect_call(self, children: list[Any]) -> tuple[str, Any]:
        """``call N`` in an expect line: the value (a number or ``$param``), flagged as the call index."""
        return ("call", children[0])

    def expect_body(self, children: list[Any]) -> dict[str, Any]:
        """Terms of an expect line, with the optional call number split off."""
        call = None
        if children and isinstance(children[0], tuple) and children[0][0] == "call":
            call = children[0][1]
            children = children[1:]
        return {"call": call, "terms": list(children)}

    # ---- statements
    @v_args(meta=True)
    def scenario(self, meta: Any, c: list[Any]) -> Stmt:
        """``scenario "name"``."""
        return Stmt("scenario", self._meta_span(meta, c), {"name": c[0]})

    @v_args(meta=True)
    def description(self, meta: Any, c: list[Any]) -> Stmt:
        """``description "text"``."""
        return Stmt("description", self._meta_span(meta, c), {"text": c[0]})

    @v_args(meta=True)
    def param(self, meta: Any, c: list[Any]) -> Stmt:
        """``param name = value``."""
        return Stmt("param", self._meta_span(meta, c), {"name": c[0], "value": c[1]})

    @v_args(meta=True)
    def timers(self, meta: Any, c: list[Any]) -> Stmt:
        """``timers T1=.. T2=..``."""
        return Stmt("timers", self._meta_span(meta, c), {}, list(c))

    @v_args(meta=True)
    def transport(self, meta: Any, c: list[Any]) -> Stmt:
        """``transport udp|tcp``."""
        return Stmt("transport", self._meta_span(meta, c), {"value": c[0]})

    def _node(self, kind: str, meta: Any, c: list[Any]) -> Stmt:
        """A node statement: name and options."""
        return Stmt(kind, self._meta_span(meta, c), {"name": c[0]}, list(c[1:]))

    @v_args(meta=True)
    def ua(self, meta: Any, c: list[Any]) -> Stmt:
        """``ua NAME options``."""
        return self._node("ua", meta, c)

    @v_args(meta=True)
    def proxy(self, meta: Any, c: list[Any]) -> Stmt:
        """``proxy NAME options``."""
        return self._node("proxy", meta, c)

    @v_args(meta=True)
    def redirect(self, meta: Any, c: list[Any]) -> Stmt:
        """``redirect NAME options``."""
        return self._node("redirect", meta, c)

    @v_args(meta=True)
    def b2bua(self, meta: Any, c: list[Any]) -> Stmt:
        """``b2bua NAME options``."""
        return self._node("b2bua", meta, c)

    @v_args(meta=True)
    def location(self, meta: Any, c: list[Any]) -> Stmt:
        """``location AOR -> contacts``."""
        return Stmt("location", self._meta_span(meta, c), {"aor": c[0], "contacts": c[1]})

    @v_args(meta=True)
    def link(self, meta: Any, c: list[Any]) -> Stmt:
        """``link a <-> b options``."""
        return Stmt("link", self._meta_span(meta, c), {"a": c[0], "arrow": c[1], "b": c[2]}, list(c[3:]))

    @v_args(meta=True)
    def handler(self, meta: Any, c: list[Any]) -> Stmt:
        """``on NODE EVENT:`` and its actions."""
        event, method = c[1]
        return Stmt(
            "on", self._meta_span(meta, c),
            {"node": c[0], "event": event, "to": method, "actions": c[2]},
        )

    def suite(self, children: list[Any]) -> list[Stmt]:
        """The actions of a handler."""
        return [c for c in children if isinstance(c, Stmt)]

    @v_args(meta=True)
    def send(self, meta: Any, c: list[Any]) -> Stmt:
        """``send CODE options``."""
        return Stmt("send", self._meta_span(meta, c), {"code": c[0]}, list(c[1:]))

    @v_args(meta=True)
    def wait(self, meta: Any, c: list[Any]) -> Stmt:
        """``wait D``."""
        return Stmt("wait", self._meta_span(meta, c), {"duration": c[0]})

    def _bare(self, kind: str, meta: Any, c: list[Any]) -> Stmt:
        """An action without arguments."""
        return Stmt(kind, self._meta_span(meta, c))

    @v_args(meta=True)
    def hangup(self, meta: Any, c: list[Any]) -> Stmt:
        """``hangup``."""
        return self._bare("hangup", meta, c)

    @v_args(meta=True)
    def bye(self, meta: Any, c: list[Any]) -> Stmt:
        """``bye``."""
        return self._bare("bye", meta, c)

    @v_args(meta=True)
    def cancel(self, meta: Any, c: list[Any]) -> Stmt:
        """``cancel``."""
        return self._bare("cancel", meta, c)

    @v_args(meta=True)
    def ignore(self, meta: Any, c: list[Any]) -> Stmt:
        """``ignore``."""
        return self._bare("ignore", meta, c)

    @v_args(meta=True)
    def prack(self, meta: Any, c: list[Any]) -> Stmt:
        """``prack``."""
        return self._bare("prack", meta, c)

    @v_args(meta=True)
    def reinvite(self, meta: Any, c: list[Any]) -> Stmt:
        """``reinvite [no-sdp] [contact URI]``."""
        return Stmt("reinvite", self._meta_span(meta, c), {}, list(c))

    @v_args(meta=True)
    def register_action(self, meta: Any, c: list[Any]) -> Stmt:
        """``register options`` inside a handler."""
        return Stmt("register", self._meta_span(meta, c), {}, list(c))

    @v_args(meta=True)
    def call(self, meta: Any, c: list[Any]) -> Stmt:
        """``call a -> b options``."""
        return Stmt("call", self._meta_span(meta, c), {"caller": c[0], "callee": c[1]}, list(c[2:]))

    @v_args(meta=True)
    def calls(self, meta: Any, c: list[Any]) -> Stmt:
        """``calls POOL -> POOL options``."""
        return Stmt("calls", self._meta_span(meta, c), {"callers": c[0], "callees": c[1]}, list(c[2:]))

    @v_args(meta=True)
    def register(self, meta: Any, c: list[Any]) -> Stmt:
        """``register UA options``."""
        return Stmt("register", self._meta_span(meta, c), {"ua": c[0]}, list(c[1:]))

    @v_args(meta=True)
    def request(self, meta: Any, c: list[Any]) -> Stmt:
        """``request METHOD a -> b options``."""
        return Stmt(
            "request", self._meta_span(meta, c),
            {"method": c[0], "source": c[1], "target": c[2]}, list(c[3:]),
        )

    @v_args(meta=True)
    def fault(self, meta: Any, c: list[Any]) -> Stmt:
        """``at T link ... | node ...``."""
        what = c[1]
        what.head["at"] = c[0]
        what.span = self._meta_span(meta, c)
        return what

    @v_args(meta=True)
    def link_fault(self, meta: Any, c: list[Any]) -> Stmt:
        """``link a <-> b down [for D] | up``."""
        state, duration = c[3]
        return Stmt(
            "link-fault", self._meta_span(meta, c),
            {"a": c[0], "arrow": c[1], "b": c[2], "state": state, "for": duration},
        )

    @v_args(meta=True)
    def node_fault(self, meta: Any, c: list[Any]) -> Stmt:
        """``node x crash [for D] | restart``."""
        state, duration = c[1]
        return Stmt("node-fault", self._meta_span(meta, c), {"node": c[0], "state": state, "for": duration})

    def _state(self, children: list[Any]) -> tuple[Tok, Any]:
        """A link/node state keyword and its optional duration."""
        return Tok("word", children[0].text, children[0].span), children[1] if len(children) > 1 else None

    link_state = node_state = _state

    @v_args(meta=True)
    def drop(self, meta: Any, c: list[Any]) -> Stmt:
        """``drop [all] MSG a -> b options``."""
        every = bool(c) and isinstance(c[0], Tok) and c[0].kind == "word" and c[0].text == "all"
        rest = c[1:] if every else c
        opts = list(rest[3:])
        if every:
            opts.insert(0, (Tok("kw", "all", c[0].span), True))
        message, to = rest[0]
        return Stmt("drop", self._meta_span(meta, c),
                    {"message": message, "to": to, "source": rest[1], "target": rest[2]}, opts)

    @v_args(meta=True)
    def expect(self, meta: Any, c: list[Any]) -> Stmt:
        """``expect [call N] terms``."""
        body = c[0]
        return Stmt("expect", self._meta_span(meta, c), body)

    @v_args(meta=True)
    def stop(self, meta: Any, c: list[Any]) -> Stmt:
        """``stop at T``."""
        return Stmt("stop", self._meta_span(meta, c), {"at": c[0]})

    @v_args(meta=True)
    def max_events(self, meta: Any, c: list[Any]) -> Stmt:
        """``max events N``."""
        return Stmt("max-events", self._meta_span(meta, c), {"value": c[0]})


# ------------------------------------------------------------------- errors

_EXAMPLES: list[tuple[str, list[str]]] = [
    ("expected a response code 100–699 after `send`",
     ["on a X: send\n", "on a X: send reliable\n", "on a X: send 180 reliable reliable x\n"]),
    ("expected a duration such as 2s after `wait`", ["on a X: wait\n", "on a X: wait x\n"]),
    ("expected an action (send, wait, hangup, bye, cancel, reinvite, ignore, prack, register)",
     ["on a X: x\n", "on a X:\n    x\n", "on a X: send 200; x\n", "on a X:\n\n"]),
    ("expected `:` and the actions after the event of `on NODE EVENT`",
     ["on a INVITE\n", "on a INVITE x\n", "on a 180\n", "on a 2xx\n", "on a 200 to BYE\n",
      "on a 200 x\n"]),
    ("expected an event after the node name: a method (INVITE), a code (180), a class (2xx), "
     "timeout or call-ended", ["on a\n", "on a :\n"]),
    ("expected a node name after `on`", ["on\n", "on 5\n"]),
    ("expected a node name", ["ua\n", "proxy\n", "redirect\n", "b2bua\n", "ua 5\n", "link\n",
                              "link a <->\n", "call\n", "calls\n", "register\n"]),
    ("expected `<->` or `->` between the two node names", ["link a\n", "link a b\n", "link a = b\n",
                                                           "at 1s link a\n", "at 1s link a b\n"]),
    ("expected `->` between caller and callee", ["call a\n", "call a b\n", "call a <-> b\n",
                                                  "calls a\n", "calls a b\n"]),
    ("expected the callee: a node name or a sip: URI", ["call a ->\n", "call a -> 5\n"]),
    ("expected a value: a number with its unit (50ms, 10%, 20/s), a $param, a string or "
     "a distribution such as uniform(10ms, 30ms)",
     ["link a <-> b delay\n", "link a <-> b delay x\n", "link a <-> b jitter\n",
      "link a <-> b loss\n", "call a -> b at\n", "param x =\n", "stop at\n", "max events\n",
      "at\n", "timers T1=\n"]),
    ("expected a link option: delay, jitter, loss, duplicate, reorder, bandwidth or transport",
     ["link a <-> b x\n", "link a <-> b delay 1ms x\n"]),
    ("expected a ua option: supports, requires, no-auto-prack, no-trying, no-answer-sdp, host, "
     "domain, outbound or credentials", ["ua a x\n", "ua a supports 100rel x\n"]),
    ("expected a proxy option: stateless, stateful, record-route, forking, domain, registrar, "
     "auth, host, no-trying, timeout-response or branch-timeout", ["proxy a x\n", "proxy a stateful x\n"]),
    ("expected a host name or IP address (biloxi.example.com, 10.0.0.1 or \"[2001:db8::1]\")",
     ["ua a host\n", "ua a domain\n", "proxy a host\n", "proxy a domain\n", "proxy a domain x,\n",
      "proxy a auth realm\n", "redirect a host\n", "redirect a domain\n", "redirect a domain x,\n",
      "b2bua a host\n", "b2bua a domain\n", "b2bua a domain x,\n", "ua a credentials u:p@\n"]),
    ("expected `udp` or `tcp`", ["transport\n", "transport x\n", "link a <-> b transport x\n"]),
    ("expected `param NAME = VALUE`", ["param\n", "param x\n", "param x 5\n"]),
    ("expected `T1=`, `T2=` or `T4=` followed by a duration", ["timers\n", "timers x\n", "timers T1\n"]),
    ("expected a quoted name after `scenario`", ["scenario\n", "scenario x\n"]),
    ("expected `link A <-> B down|up` or `node N crash|restart` after the time",
     ["at 1s\n", "at 1s x\n"]),
    ("expected `down` or `up`", ["at 1s link a <-> b\n", "at 1s link a <-> b x\n"]),
    ("expected `crash` or `restart`", ["at 1s node a\n", "at 1s node a x\n"]),
    ("expected a measure after `expect` (outcome, final_code, final_ms, ...)", ["expect\n"]),
    ("expected a statement: scenario, description, param, timers, transport, ua, proxy, redirect, "
     "b2bua, location, link, on, call, calls, register, request, at, drop, expect, stop or max",
     ["x\n", "5\n", "ua a\nx\n", "  ua a\n"]),
    ("unexpected indentation: only the actions of an `on NODE EVENT:` block are indented",
     ["ua a\n    ua b\n"]),
    ("a string is not closed: expected `\"` before the end of the line", ['scenario "x\n']),
]

_NICE_TERMINALS = {
    "NAME": "a name", "QUANTITY": "a number", "PARAM": "a $param", "URI": "a sip: URI",
    "PATTERN": "a pattern such as agent*", "STRING": "a quoted string", "LONG_STRING": "a quoted string",
    "COMPARE": "a comparison (<, <=, ==, !=, >=, >)", "FUNC": "a distribution such as uniform(...)",
    "_NL": "end of line", "$END": "end of file", "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
}


def _state_key(state: Any) -> Any:
    """A hashable parser state: the LALR state number (Lark gives a ParserState or an int)."""
    return getattr(state, "position", state)


@functools.lru_cache(maxsize=1)
def _example_states() -> dict[tuple[int, str], str]:
    """Parser state (and first rule) -> message, computed once from the examples."""
    table: dict[tuple[int, str], str] = {}
    lark = parser()
    for label, examples in _EXAMPLES:
        for example in examples:
            try:
                lark.parse(example, start="start")
            except UnexpectedInput as exc:
                if exc.state is not None:
                    table.setdefault((_state_key(exc.state), "start"), label)
            except LarkError:
                continue
    return table


@functools.lru_cache(maxsize=1)
def _keyword_text() -> dict[str, str]:
    """Terminal name -> the literal keyword it stands for (``NO_AUTO_PRACK`` -> ``no-auto-prack``)."""
    out: dict[str, str] = {}
    for term in parser().terminals:
        if isinstance(term.pattern, PatternStr):
            out[term.name] = term.pattern.value
    return out


def keywords() -> frozenset[str]:
    """Every keyword of the language."""
    return frozenset(_keyword_text().values())


def _token_text(exc: UnexpectedInput, lines: list[str]) -> str:
    """What the parser tripped on, for the message."""
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "_NL":
            return "end of line"
        if token.type == "$END":
            return "end of file"
        if token.type in ("_INDENT", "_DEDENT"):
            return "indentation"
        return f"`{token}`"
    if isinstance(exc, UnexpectedCharacters):
        line = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
        word = line[exc.column - 1:].split()[0] if line[exc.column - 1:].split() else line[exc.column - 1:exc.column]
        return f"`{word[:40]}`"
    return "end of file"


def _expected(exc: UnexpectedInput) -> set[str]:
    """Terminal names the parser would have accepted."""
    if isinstance(exc, UnexpectedToken):
        return set(exc.accepts or exc.expected or ())
    if isinstance(exc, UnexpectedCharacters):
        return set(exc.allowed or ())
    if isinstance(exc, UnexpectedEOF):
        return set(exc.expected or ())
    return set()


def _describe_error(exc: UnexpectedInput, lines: list[str]) -> str:
    """A message for one syntax error, in SIP terms where a known slip matches."""
    got = _token_text(exc, lines)
    if isinstance(exc, UnexpectedToken) and exc.token.type == "_INDENT":
        before = lines[exc.token.line - 1] if 0 < (exc.token.line or 0) <= len(lines) else ""
        if _INLINE_HANDLER_RE.fullmatch(before):
            return ("unexpected indentation: a handler's actions go after its `:` or in an indented block "
                    "under it, not both")
        if before[:1] in (" ", "\t"):
            return "unexpected indentation: the actions of a handler line up under its first one"
        return "unexpected indentation: only the actions under `on NODE EVENT:` are indented"
    if isinstance(exc, UnexpectedCharacters) and got.startswith('`"'):
        return "this string is not closed: a `\"` is missing before the end of the line"
    stray = _stray_in_name(exc, lines)
    if stray is not None:
        return stray
    expected = _expected(exc)
    keywords = _keyword_text()
    label = _example_states().get((_state_key(exc.state), "start")) if exc.state is not None else None
    if label is None:
        shown = sorted({
            f"`{keywords[t]}`" if t in keywords else _NICE_TERMINALS.get(t, t)
            for t in expected
            if t not in ("_INDENT", "_DEDENT") or len(expected) == 1
        })
        label = "expected " + (", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "") if shown else "something else")
    message = f"unexpected {got}; {label}"
    word = got.strip("`")
    if word in _UNITS and isinstance(exc, UnexpectedToken) and _after_number(exc, lines):
        return f"unexpected `{word}`: write a number and its unit together (10{word}, not 10 {word})"
    if word == "=" and "COMPARE" in expected:
        return message + "; write `==` to compare"
    candidates = [keywords[t] for t in expected if t in keywords]
    if word and candidates:
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
        if not close and word.lower() in candidates:
            close = [word.lower()]
        if close and close[0] != word:
            message += f"; did you mean `{close[0]}`?"
    return message


# A name that ends right before the column (it starts the line or follows a space, `,`, `[` or `->`).
_NAME_BEFORE = re.compile(rf"(?:^|(?<=[\s,\[>]))(?:{NAME_RE.pattern})$")


def _stray_in_name(exc: UnexpectedInput, lines: list[str]) -> str | None:
    """A message for a character that cannot be in a name, met inside one (``ua bób``), or None.

    The parser state after a name is shared by every statement, so the example table would
    name whichever statement taught it that state (`link`'s arrow), not this one.
    """
    if isinstance(exc, UnexpectedToken) and exc.token.type in ("_NL", "$END", "_INDENT", "_DEDENT"):
        return None
    number, column = getattr(exc, "line", None), getattr(exc, "column", None)
    if not isinstance(number, int) or not isinstance(column, int) or not 0 < number <= len(lines):
        return None
    line = lines[number - 1]
    before, rest = line[: column - 1], line[column - 1:]
    match = _NAME_BEFORE.search(before)
    # What may follow a name with no space: an arrow, `:` `;` `,` `=`, brackets, a comment.
    if match is None or not rest or rest[0].isspace() or rest[0] in "-<:;,=()[]#" or match.group(0) in keywords():
        return None
    word = match.group(0) + rest.split()[0]
    return (f"unexpected `{rest[0]}` in `{word[:40]}`: a name is letters, digits, `_`, and `.` or `-` "
            "between them (ASCII only: it becomes part of a SIP URI)")


_UNITS = frozenset({"ms", "s", "min", "h", "%", "kbps", "Mbps", "Gbps", "bps", "/s", "/min", "/h", "rel"})


def _after_number(exc: UnexpectedToken, lines: list[str]) -> bool:
    """True if the unexpected token follows a number and a space (``10 ms``)."""
    line = lines[exc.token.line - 1] if exc.token.line and 0 < exc.token.line <= len(lines) else ""
    before = line[: (exc.token.column or 1) - 1]
    return bool(before) and before[-1] in " \t" and before.rstrip()[-1:].isdigit()


def _position(exc: UnexpectedInput, text_lines: list[str]) -> tuple[int, int]:
    """1-based line and column of a syntax error (end of text for EOF)."""
    line = getattr(exc, "line", None)
    col = getattr(exc, "column", None)
    if isinstance(exc, UnexpectedToken) and exc.token.type == "_NL":
        # The newline token starts at the end of the offending line.
        line, col = exc.token.line, exc.token.column
    if isinstance(exc, UnexpectedToken) and exc.token.type == "_INDENT":
        # The indent token borrows the previous newline's position: point at the indented line.
        start = exc.token.line or 1
        for number in range(start + 1, len(text_lines) + 1):
            body = text_lines[number - 1]
            if body.strip() and not body.lstrip().startswith("#"):
                return number, len(body) - len(body.lstrip()) + 1
    if not isinstance(line, int) or line < 1:
        line = max(len(text_lines), 1)
        col = len(text_lines[-1]) + 1 if text_lines else 1
    if not isinstance(col, int) or col < 1:
        col = 1
    return line, col


_HANDLER_HEADER_RE = re.compile(r"[\t ]*on[\t ][^#]*:[\t ]*(#.*)?")
# A handler header with its actions on the same line (``on bob INVITE: send 200``).
_INLINE_HANDLER_RE = re.compile(r"[\t ]*on[\t ][^#]*:[\t ]*[^\s#].*")
_PLACEHOLDER_ACTION = "hangup"


def _blank(lines: list[str], index: int) -> None:
    """Blank line ``index`` and the more-indented block under it (keeps numbering).

    The only action of a handler block becomes a placeholder action instead: an
    empty block would make the header and every statement after it fail too.
    """
    def indent(s: str) -> int:
        """Width of a line's leading whitespace."""
        return len(s) - len(s.lstrip(" \t"))

    def real(s: str) -> bool:
        """True for a line with a statement (not blank, not only a comment)."""
        return bool(s.strip()) and not s.lstrip().startswith("#")

    original = lines[index]
    base = indent(original)
    lines[index] = ""
    j = index + 1
    while j < len(lines) and (not lines[j].strip() or indent(lines[j]) > base):
        lines[j] = ""
        j += 1
    if base == 0:
        return
    above = next((line for line in reversed(lines[:index]) if real(line)), "")
    below = next((line for line in lines[j:] if real(line)), "")
    if indent(above) < base and _HANDLER_HEADER_RE.fullmatch(above) and indent(below) < base:
        lines[index] = original[:base] + _PLACEHOLDER_ACTION


def _blank_block(lines: list[str], index: int) -> None:
    """Blank line ``index`` and the lines after it indented at least as far (keeps numbering)."""
    base = len(lines[index]) - len(lines[index].lstrip(" \t"))
    j = index
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip(" \t")) >= base):
        lines[j] = ""
        j += 1


def parse_sip(text: str, file: str) -> tuple[list[Stmt], list[Problem]]:
    """Parse a `.sip` text into statements, or report every syntax error found."""
    with _PARSE_LOCK:
        return _parse_sip(text, file)


def _parse_sip(text: str, file: str) -> tuple[list[Stmt], list[Problem]]:
    """parse_sip under the parse lock."""
    original = text.split("\n")
    work = list(original)
    problems: list[Problem] = []
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = parser().parse("\n".join(work) + "\n", start="start")
        except DedentError as exc:
            line = _dedent_line(work)
            problems.append(Problem(Span(file, line, 1),
                                    "unindent does not match any outer indentation level",
                                    source_line(original, line)))
            if not 0 < line <= len(work) or not work[line - 1]:
                break
            _blank(work, line - 1)
            continue
        except UnexpectedInput as exc:
            line, col = _position(exc, work)
            problems.append(Problem(Span(file, line, col), _describe_error(exc, work), source_line(original, line)))
            if isinstance(exc, UnexpectedToken) and exc.token.type == "_INDENT" and 0 < line <= len(work):
                # The whole unexpected block is the mistake: one error, not one per line of it.
                _blank_block(work, line - 1)
            elif not 0 < line <= len(work) or not work[line - 1].strip():
                # Nothing left to blank on that line: blank the statement above it.
                prev = line - 2
                while prev >= 0 and not work[prev].strip():
                    prev -= 1
                if prev < 0:
                    break
                _blank(work, prev)
            else:
                _blank(work, line - 1)
            continue
        except LarkError as exc:  # any other parser complaint: report, never a traceback
            problems.append(Problem(Span(file, 1, 1), f"cannot parse: {exc}", source_line(original, 1)))
            break
        if problems:
            break
        try:
            return ToStatements(file).transform(tree), []
        except VisitError as exc:  # a bug in the transformer must still not escape as a traceback
            return [], [Problem(Span(file, 1, 1), f"internal error while reading: {exc.orig_exc}", None)]
    return [], problems


def _dedent_line(lines: list[str]) -> int:
    """The first line whose indentation matches no enclosing level (1-based)."""
    stack = [0]
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())
        if width > stack[-1]:
            stack.append(width)
            continue
        while width < stack[-1]:
            stack.pop()
        if width != stack[-1]:
            return number
    return len(lines)


def parse_fragment(text: str, start: str, file: str, line: int, col: int) -> Any:
    """Parse a one-line YAML string with one of the grammar's extra entry points.

    Raises :class:`UnexpectedInput` (from Lark) on failure; the caller reports it.
    """
    with _PARSE_LOCK:
        tree = parser().parse(text, start=start)
    return ToStatements(file, line - 1, col - 1).transform(tree)


def fragment_error(exc: Exception, text: str) -> tuple[int, str]:
    """Column offset (0-based) and message for a failed fragment parse."""
    if isinstance(exc, DedentError):
        return 0, "unexpected indentation"
    if isinstance(exc, UnexpectedInput):
        got = _token_text(exc, [text])
        expected = _expected(exc)
        keywords = _keyword_text()
        # A set: STRING and LONG_STRING both read "a quoted string". A fragment is one YAML string,
        # so its end is the end of the text, not of the file.
        shown = sorted({"the end of the text" if t == "$END" else
                        f"`{keywords[t]}`" if t in keywords else _NICE_TERMINALS.get(t, t)
                        for t in expected if t not in ("_INDENT", "_DEDENT", "_NL")})
        col = getattr(exc, "column", 1) or 1
        if isinstance(exc, UnexpectedToken) and exc.token.type in ("_NL", "$END"):
            col = len(text) + 1
            got = "the end of the text"
        message = f"unexpected {got}"
        if shown:
            message += "; expected " + ", ".join(shown[:10]) + (", ..." if len(shown) > 10 else "")
        word = got.strip("`")
        close = difflib.get_close_matches(word, [keywords[t] for t in expected if t in keywords], n=1, cutoff=0.6)
        if close and close[0] != word:
            message += f"; did you mean `{close[0]}`?"
        return max(col - 1, 0), message
    return 0, str(exc)


def iter_statements(stmts: list[Stmt]) -> Iterator[Stmt]:
    """Every statement and handler action, depth first."""
    for stmt in stmts:
        yield stmt
        for action in stmt.head.get("actions", []) or []:
            if isinstance(action, Stmt):
                yield action
