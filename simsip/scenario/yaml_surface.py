"""The YAML surface: the same statements as `.sip`, read with PyYAML's SafeLoader.

The text is *composed* (``yaml.compose`` with ``SafeLoader``: no object
construction, no tags beyond the safe ones) so every node keeps its
``start_mark``; errors then point at ``file:line:col`` as in `.sip`. One-line
strings that carry structure (``alice <-> edge``, ``bob INVITE``,
``send 180 reliable``, ``final_ms < 4s``, ``uniform(10ms, 30ms)``) are parsed
with the `.sip` grammar's extra entry points, so both surfaces share one
lexer and one builder.

Layout (every section optional)::

    scenario: Reliable 180
    description: ...
    params: {loss: 10%, delay: 40ms}
    timers: {T1: 500ms, T2: 4s}
    transport: udp
    nodes:
      - ua: alice
      - proxy: edge
        stateful: true
        record-route: true
      - ua: bob
        supports: [100rel]
    locations:
      - location: sip:bob@biloxi.example.com
        contacts: [bob]
    links:
      - link: alice <-> edge
        delay: 10ms
    handlers:
      - on: bob INVITE
        do: [send 180 reliable, wait 2s, send 200]
    workload:
      - call: alice -> bob
        at: 0s
    faults:
      - at: 3s
        link: edge <-> bob
        down: true
        for: 1s
      - drop: ACK
        from: alice
        to: bob
    expect: [outcome answered, final_ms < 4s]
    stop-at: 60s
    max-events: 100000
"""

from __future__ import annotations

from typing import Any, Callable

import yaml
from lark.exceptions import LarkError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from simsip.scenario.errors import Problem, source_line
from simsip.scenario.model import Span
from simsip.scenario.raw import Func, Lst, Stmt, Tok, classify
from simsip.scenario.sip_surface import fragment_error, parse_fragment

TOP_KEYS = (
    "scenario", "description", "params", "timers", "transport", "nodes", "locations", "links",
    "handlers", "workload", "faults", "expect", "stop-at", "max-events",
)
NODE_KINDS = ("ua", "proxy", "redirect", "b2bua")
WORKLOAD_KINDS = ("call", "calls", "register", "request")
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TRUE = ("true", "yes", "on", "y")  # how YAML 1.1 writes a true boolean, in lower case


class _Stop(Exception):
    """A YAML entry could not be read; its problem is recorded."""


class YamlReader:
    """Composed YAML nodes -> :class:`Stmt` list, with problems collected."""

    def __init__(self, file: str, lines: list[str]) -> None:
        """Read for ``file`` whose ``lines`` are quoted in messages."""
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    # -------------------------------------------------------------- basics
    def span(self, node: Node) -> Span:
        """``file:line:col`` of a YAML node."""
        mark = node.start_mark
        return Span(self.file, mark.line + 1, mark.column + 1)

    def error(self, span: Span, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(span, message, source_line(self.lines, span.line)))

    def fail(self, node: Node | Span, message: str) -> _Stop:
        """Record a problem and return the exception that skips the entry."""
        self.error(node if isinstance(node, Span) else self.span(node), message)
        return _Stop(message)

    def pairs(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        """Key, key node and value node of a mapping; duplicate keys are problems."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping (`key: value` lines)")
        out: list[tuple[str, Node, Node]] = []
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(self.span(key_node), f"a key in {what} must be a plain word")
                continue
            key = str(key_node.value)
            if key in seen:
                self.error(self.span(key_node), f"key `{key}` given twice in {what} (first at line "
                           f"{seen[key].start_mark.line + 1})")
                continue
            seen[key] = key_node
            out.append((key, key_node, value_node))
        return out

    def text(self, node: Node, what: str) -> str:
        """A scalar's text."""
        if not isinstance(node, ScalarNode):
            shape = "a list" if isinstance(node, SequenceNode) else "a mapping"
            raise self.fail(node, f"{what} needs one value written on its line, not {shape}")
        if node.tag == _NULL:
            raise self.fail(node, f"{what} needs a value")
        return str(node.value)

    def _offset(self, node: ScalarNode) -> tuple[int, int]:
        """1-based line and column of a scalar's first character of content."""
        mark = node.start_mark
        quoted = 1 if node.style in ('"', "'") else 0
        return mark.line + 1, mark.column + 1 + quoted

    def fragment(self, node: Node, start: str, what: str) -> Any:
        """Parse a one-line string with one of the grammar's entry points."""
        text = self.text(node, what)
        assert isinstance(node, ScalarNode)
        line, col = self._offset(node)
        try:
            return parse_fragment(text, start, self.file, line, col)
        except LarkError as exc:
            offset, message = fragment_error(exc, text)
            if "\n" in text:
                offset = 0
            raise self.fail(Span(self.file, line, col + offset), f"in {what}: {message}") from None

    def value(self, node: Node, what: str) -> Any:
        """A YAML value as a raw value: Tok, Func or Lst; `true`/`false` are ``flag`` tokens."""
        if isinstance(node, SequenceNode):
            items = []
            for item in node.value:
                items.append(self.value(item, what))
            return Lst(tuple(items), self.span(node))
        if isinstance(node, MappingNode):
            raise self.fail(node, f"{what} takes a value, not a mapping")
        assert isinstance(node, ScalarNode)
        span = Span(self.file, *self._offset(node))
        if node.tag == _NULL:
            raise self.fail(node, f"{what} needs a value")
        if node.tag == _BOOL:
            # A token with its place, not a bare bool: where a flag is not expected (`delay: true`,
            # `at: false`) the builder reports it at file:line:col instead of dropping `false`.
            truth = str(node.value).lower() in _TRUE
            return Tok("flag", "true" if truth else "false", span)
        text = str(node.value)
        if node.style in ('"', "'", "|", ">"):
            return Tok("str", text, span)
        tok = classify(text, span)
        if tok is not None:
            return tok
        if "(" in text:
            return self.fragment(node, "value_text", what)
        # Anything else is a string (a host such as 192.0.2.1); the builder
        # says so if a number was expected there.
        return Tok("str", text, span)

    # ------------------------------------------------------------- reading
    def read(self, root: Node | None) -> list[Stmt]:
        """The statements of a whole YAML document."""
        if root is None:
            return []
        stmts: list[Stmt] = []
        for key, key_node, node in self.pairs(root, "a scenario"):
            handler: Callable[[Node, Node], None] | None = {
                "scenario": lambda k, n: stmts.append(self._single("scenario", "name", k, n)),
                "description": lambda k, n: stmts.append(self._single("description", "text", k, n)),
                "params": lambda k, n: stmts.extend(self._params(n)),
                "timers": lambda k, n: stmts.append(self._timers(k, n)),
                "transport": lambda k, n: stmts.append(
                    Stmt("transport", self.span(k), {"value": self.value(n, "transport")})),
                "nodes": lambda k, n: stmts.extend(self._entries(n, "nodes", self._node)),
                "locations": lambda k, n: stmts.extend(self._entries(n, "locations", self._location)),
                "links": lambda k, n: stmts.extend(self._entries(n, "links", self._link)),
                "handlers": lambda k, n: stmts.extend(self._entries(n, "handlers", self._handler)),
                "workload": lambda k, n: stmts.extend(self._entries(n, "workload", self._workload)),
                "faults": lambda k, n: stmts.extend(self._entries(n, "faults", self._fault)),
                "expect": lambda k, n: stmts.extend(self._entries(n, "expect", self._expect)),
                "stop-at": lambda k, n: stmts.append(Stmt("stop", self.span(k), {"at": self.value(n, "stop-at")})),
                "max-events": lambda k, n: stmts.append(
                    Stmt("max-events", self.span(k), {"value": self.value(n, "max-events")})),
            }.get(key)
            if handler is None:
                from simsip.scenario.build import suggest

                self.error(self.span(key_node), f"unknown section `{key}`; sections are {', '.join(TOP_KEYS)}"
                           + suggest(key, TOP_KEYS))
                continue
            try:
                handler(key_node, node)
            except _Stop:
                continue
        return stmts

    def _single(self, kind: str, field: str, key: Node, node: Node) -> Stmt:
        """``scenario:`` / ``description:``: one string."""
        text = self.text(node, kind)
        assert isinstance(node, ScalarNode)
        return Stmt(kind, self.span(key), {field: Tok("str", text, Span(self.file, *self._offset(node)))})

    def _params(self, node: Node) -> list[Stmt]:
        """``params: {name: default}``."""
        out = []
        for key, key_node, value_node in self.pairs(node, "params"):
            try:
                text = self.text(value_node, f"param `{key}`")
                assert isinstance(value_node, ScalarNode)
                span = Span(self.file, *self._offset(value_node))
                if value_node.style in ('"', "'"):
                    value: Any = Tok("str", text, span)
                else:
                    value = classify(text, span)
                    if value is None or value.kind != "num":
                        value = Tok("str", text, span)
                out.append(Stmt("param", self.span(key_node),
                                {"name": Tok("word", key, self.span(key_node)), "value": value}))
            except _Stop:
                continue
        return out

    def _timers(self, key: Node, node: Node) -> Stmt:
        """``timers: {T1: 500ms}``."""
        opts = []
        for name, name_node, value_node in self.pairs(node, "timers"):
            try:
                opts.append((Tok("kw", name, self.span(name_node)), self.value(value_node, name)))
            except _Stop:
                continue
        return Stmt("timers", self.span(key), {}, opts)

    def _entries(self, node: Node, what: str, fn: Callable[[Node], Stmt | None]) -> list[Stmt]:
        """Each entry of a list section."""
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"`{what}` must be a list (lines starting with `- `)")
        out = []
        for item in node.value:
            try:
                stmt = fn(item)
            except _Stop:
                continue
            if stmt is not None:
                out.append(stmt)
        return out

    def _head(self, node: Node, kinds: tuple[str, ...], what: str) -> tuple[str, Node, Node, list[tuple[str, Node, Node]]]:
        """The entry's statement key (one of ``kinds``) and its other keys."""
        pairs = self.pairs(node, f"an entry of `{what}`")
        heads = [p for p in pairs if p[0] in kinds]
        if len(heads) != 1:
            from simsip.scenario.build import suggest

            word = pairs[0][0] if pairs else ""
            hint = suggest(word, kinds) if word else ""
            raise self.fail(node, f"each entry of `{what}` starts with one of {', '.join(kinds)}{hint}")
        kind, key_node, value_node = heads[0]
        return kind, key_node, value_node, [p for p in pairs if p[0] != kind]

    def _opts(self, rest: list[tuple[str, Node, Node]], what: str) -> list[tuple[Tok, object]]:
        """Options from the remaining keys (a flag's ``true``/``false`` is read by the builder)."""
        opts: list[tuple[Tok, object]] = []
        for key, key_node, value_node in rest:
            try:
                value = self._option_value(key, value_node, what)
            except _Stop:
                continue
            if value is None:
                continue
            opts.append((Tok("kw", key, self.span(key_node)), value))
        return opts

    def _option_value(self, key: str, node: Node, what: str) -> Any:
        """An option's value, with the few structured options read specially."""
        if key == "credentials" or key == "users":
            return self._creds(node, key)
        if key == "auth":
            pairs = {k: (kn, vn) for k, kn, vn in self.pairs(node, "auth")}
            unknown = [k for k in pairs if k not in ("realm", "users")]
            if unknown:
                raise self.fail(pairs[unknown[0]][0], f"`auth` takes realm and users, not `{unknown[0]}`")
            if "realm" not in pairs:
                raise self.fail(node, "`auth` needs `realm`")
            return {"realm": self.value(pairs["realm"][1], "realm"),
                    "users": self._creds(pairs["users"][1], "users") if "users" in pairs else None}
        if key == "reorder" and isinstance(node, ScalarNode) and " by " in str(node.value):
            value, _, by = str(node.value).partition(" by ")
            line, col = self._offset(node)
            first = classify(value.strip(), Span(self.file, line, col))
            second = classify(by.strip(), Span(self.file, line, col + len(value) + 4))
            if first is None or second is None:
                raise self.fail(node, "write `reorder: 5% by 30ms`")
            return (first, second)
        if key in ("contact", "contacts", "outbound", "domain", "supports", "requires", "require",
                   "supported") and isinstance(node, ScalarNode) and "," in str(node.value):
            return self.fragment(node, "targets_text", key)
        return self.value(node, f"`{key}` of {what}")

    def _creds(self, node: Node, what: str) -> Lst:
        """``[user:password@realm, ...]``."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        out = []
        for item in items:
            text = self.text(item, what)
            user, sep, rest = text.partition(":")
            if not sep or not user:
                self.error(self.span(item), f"credentials are written user:password or user:password@realm, "
                           f"not `{text}`")
                continue
            password, at, realm = rest.rpartition("@") if "@" in rest else (rest, "", "")
            span = Span(self.file, *self._offset(item)) if isinstance(item, ScalarNode) else self.span(item)
            parts = [Tok("word", user, span), Tok("str", password, span)]
            if at:
                parts.append(Tok("word", realm, span))
            out.append(Lst(tuple(parts), span))
        return Lst(tuple(out), self.span(node))

    def _node(self, node: Node) -> Stmt:
        """``- ua: alice`` (+ options)."""
        kind, key_node, value_node, rest = self._head(node, NODE_KINDS, "nodes")
        name = self._name(value_node, kind)
        return Stmt(kind, self.span(key_node), {"name": name}, self._opts(rest, f"a {kind}"))

    def _name(self, node: Node, what: str) -> Tok:
        """A node name."""
        text = self.text(node, what)
        assert isinstance(node, ScalarNode)
        return Tok("word" if node.style is None else "str", text, Span(self.file, *self._offset(node)))

    def _location(self, node: Node) -> Stmt:
        """``- location: AOR`` + ``contacts: [...]``."""
        _, key_node, value_node, rest = self._head(node, ("location",), "locations")
        pairs = {k: (kn, vn) for k, kn, vn in rest}
        for extra in pairs:
            if extra != "contacts":
                raise self.fail(pairs[extra][0], f"a location takes `contacts`, not `{extra}`")
        if "contacts" not in pairs:
            raise self.fail(node, "a location needs `contacts: [...]`")
        aor = self.value(value_node, "location")
        contacts = self._option_value("contacts", pairs["contacts"][1], "location")
        return Stmt("location", self.span(key_node), {"aor": aor, "contacts": contacts})

    def _link(self, node: Node) -> Stmt:
        """``- link: a <-> b`` + options."""
        _, key_node, value_node, rest = self._head(node, ("link",), "links")
        a, arrow, b = self.fragment(value_node, "pair_text", "link")
        return Stmt("link", self.span(key_node), {"a": a, "arrow": arrow, "b": b}, self._opts(rest, "a link"))

    def _handler(self, node: Node) -> Stmt:
        """``- on: bob INVITE`` + ``do: [...]``."""
        pairs = self.pairs(node, "a handler")
        keys = {k: (kn, vn) for k, kn, vn in pairs}
        if "on" not in keys:
            raise self.fail(node, "a handler starts with `on: NODE EVENT` (e.g. `on: bob INVITE`)")
        for extra in keys:
            if extra not in ("on", "do"):
                raise self.fail(keys[extra][0], f"a handler has `on` and `do`, not `{extra}`")
        key_node, value_node = keys["on"]
        target, (event, to) = self.fragment(value_node, "event_text", "on")
        actions: list[Stmt] = []
        if "do" not in keys:
            raise self.fail(key_node, "a handler needs `do: [...]` with its actions")
        do_node = keys["do"][1]
        items = do_node.value if isinstance(do_node, SequenceNode) else [do_node]
        for item in items:
            try:
                actions.append(self._action(item))
            except _Stop:
                continue
        return Stmt("on", self.span(key_node), {"node": target, "event": event, "to": to, "actions": actions})

    def _action(self, node: Node) -> Stmt:
        """An action: ``send 180 reliable`` or ``{send: 180, reliable: true}``."""
        if isinstance(node, ScalarNode):
            return self.fragment(node, "action_text", "an action")
        kinds = ("send", "wait", "hangup", "bye", "cancel", "reinvite", "ignore", "prack", "register")
        kind, key_node, value_node, rest = self._head(node, kinds, "do")
        span = self.span(key_node)
        head: dict[str, Any] = {}
        if kind == "send":
            head["code"] = self.value(value_node, "send")
        elif kind == "wait":
            head["duration"] = self.value(value_node, "wait")
        elif not (isinstance(value_node, ScalarNode) and value_node.tag in (_NULL, _BOOL)):
            raise self.fail(value_node, f"`{kind}` takes no value (write `{kind}: true` or just `{kind}`)")
        elif not _true_or_empty(value_node):
            # An action has no off switch: `hangup: false` would still hang up.
            raise self.fail(value_node, f"`{kind}: {value_node.value}` is still a `{kind}`: an action has no "
                                        "off switch, leave it out")
        return Stmt(kind, span, head, self._opts(rest, f"`{kind}`"))

    def _workload(self, node: Node) -> Stmt:
        """``- call: a -> b`` / ``- calls: POOL -> POOL`` / ``- register: ua`` / ``- request: M a -> b``."""
        kind, key_node, value_node, rest = self._head(node, WORKLOAD_KINDS, "workload")
        span = self.span(key_node)
        opts = self._opts(rest, f"`{kind}`")
        if kind == "call":
            caller, callee = self.fragment(value_node, "call_text", "call")
            return Stmt("call", span, {"caller": caller, "callee": callee}, opts)
        if kind == "calls":
            callers, callees = self.fragment(value_node, "pool_text", "calls")
            return Stmt("calls", span, {"callers": callers, "callees": callees}, opts)
        if kind == "register":
            return Stmt("register", span, {"ua": self._name(value_node, "register")}, opts)
        text = self.text(value_node, "request")
        method, _, path = text.strip().partition(" ")
        assert isinstance(value_node, ScalarNode)
        line, col = self._offset(value_node)
        if not path:
            raise self.fail(value_node, "write `request: METHOD a -> b` (e.g. `request: OPTIONS alice -> bob`)")
        fake = ScalarNode("tag:yaml.org,2002:str", path.strip(), value_node.start_mark, value_node.end_mark)
        source, target = self.fragment(fake, "call_text", "request")
        return Stmt("request", span, {"method": Tok("word", method, Span(self.file, line, col)),
                                      "source": source, "target": target}, opts)

    def _fault(self, node: Node) -> Stmt:
        """Link/node faults (``at`` + ``link``/``node`` + state) and ``drop``."""
        pairs = self.pairs(node, "a fault")
        keys = {k: (kn, vn) for k, kn, vn in pairs}
        if "drop" in keys:
            allowed = ("drop", "from", "to", "count", "all", "after")
            for extra in keys:
                if extra not in allowed:
                    raise self.fail(keys[extra][0], f"a drop takes {', '.join(allowed)}, not `{extra}`")
            for need in ("from", "to"):
                if need not in keys:
                    raise self.fail(node, f"a drop needs `{need}`")
            message, to = self.fragment(keys["drop"][1], "message_text", "drop")
            opts = self._opts([(k, kn, vn) for k, kn, vn in pairs if k in ("count", "all", "after")], "a drop")
            return Stmt("drop", self.span(keys["drop"][0]), {
                "message": message, "to": to, "source": self._name(keys["from"][1], "from"),
                "target": self._name(keys["to"][1], "to")}, opts)
        if "at" not in keys or ("link" in keys) == ("node" in keys):
            raise self.fail(node, "a fault is `at: T` with `link: a <-> b` (down/up) or `node: x` (crash/restart), "
                            "or a `drop: MSG` with `from` and `to`")
        states = ("down", "up") if "link" in keys else ("crash", "restart")
        chosen = [s for s in states if s in keys]
        allowed = ("at", "link", "node", "for", *states)
        for extra in keys:
            if extra not in allowed:
                raise self.fail(keys[extra][0], f"this fault takes {', '.join(allowed)}, not `{extra}`")
        if len(chosen) != 1:
            raise self.fail(node, f"say which: `{states[0]}: true` or `{states[1]}: true`")
        state_key, state_value = keys[chosen[0]]
        if not _true_or_empty(state_value):
            # The key is the state: `down: false` would still take the link down.
            raise self.fail(state_value, f"write `{chosen[0]}: true` or the other state, "
                            f"`{states[1 - states.index(chosen[0])]}: true`, not `{chosen[0]}: "
                            f"{getattr(state_value, 'value', '...')}`")
        state = Tok("word", chosen[0], self.span(state_key))
        duration = self.value(keys["for"][1], "for") if "for" in keys else None
        at = self.value(keys["at"][1], "at")
        span = self.span(keys["at"][0])
        if "link" in keys:
            a, arrow, b = self.fragment(keys["link"][1], "pair_text", "link")
            return Stmt("link-fault", span, {"a": a, "arrow": arrow, "b": b, "state": state, "for": duration,
                                             "at": at})
        return Stmt("node-fault", span, {"node": self._name(keys["node"][1], "node"), "state": state,
                                         "for": duration, "at": at})

    def _expect(self, node: Node) -> Stmt:
        """``- final_ms < 4s`` (the `.sip` expect line without `expect`)."""
        body = self.fragment(node, "expect_text", "expect")
        return Stmt("expect", self.span(node), body)


def _true_or_empty(node: Node) -> bool:
    """A YAML value that switches a key on: none (``down:``) or a true boolean (``down: true``)."""
    if not isinstance(node, ScalarNode):
        return False
    if node.tag == _NULL:
        return True
    return node.tag == _BOOL and str(node.value).lower() in _TRUE


# Composition uses libyaml's CSafeLoader when PyYAML has it (the same safe
# subset, several times faster); a text it rejects is composed again by the
# pure-Python SafeLoader, whose messages are the same on every machine.
# Absurd nesting, where both are slow, is refused before either runs.
SAFE_LOADER = yaml.SafeLoader
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_FLOW_DEPTH = 64


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """Line and column where ``[``/``{`` nesting passes MAX_FLOW_DEPTH, or None.

    PyYAML's scanner is quadratic in flow depth, so absurd nesting is refused
    before it is parsed. Quoted text is skipped roughly (a scenario never
    nests brackets anywhere near this deep).
    """
    depth = 0
    line, col = 1, 0
    quote = ""
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            continue
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line, col
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return None


def parse_yaml(text: str, file: str) -> tuple[list[Stmt], list[Problem]]:
    """Read a YAML scenario into statements (and problems)."""
    lines = text.split("\n")
    deep = _flow_too_deep(text)
    if deep is not None:
        line, col = deep
        return [], [Problem(Span(file, line, col), f"YAML: brackets nested more than {MAX_FLOW_DEPTH} deep",
                            source_line(lines, line))]
    try:
        try:
            root = yaml.compose(text, Loader=FAST_LOADER)
        except yaml.YAMLError:
            # Say what is wrong in the pure-Python loader's words, the same everywhere.
            root = yaml.compose(text, Loader=SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        return [], [Problem(Span(file, line, col), f"YAML: {message}", source_line(lines, line))]
    except yaml.YAMLError as exc:
        return [], [Problem(Span(file, 1, 1), f"YAML: {exc}", lines[0] if lines else None)]
    except RecursionError:
        return [], [Problem(Span(file, 1, 1), "YAML: nested too deeply", lines[0] if lines else None)]
    reader = YamlReader(file, lines)
    if root is not None and not isinstance(root, MappingNode):
        return [], [Problem(reader.span(root), "a YAML scenario is a mapping with sections such as `scenario:`, "
                                               "`nodes:`, `links:`", lines[root.start_mark.line]
                            if root.start_mark.line < len(lines) else None)]
    stmts = reader.read(root)
    return stmts, reader.problems


__all__ = ["parse_yaml", "Func"]
