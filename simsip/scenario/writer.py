"""Write a model back as `.sip` or YAML (``simsip convert``).

The output loads back to an equal model: values that came from ``$param``
are written as ``$param`` (from ``refs``), param defaults keep their original
text, and numbers are written through their shortest decimal form so every
float survives the trip exactly. Comments are not part of the model and are
not carried over.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable

import yaml

from simsip.scenario import model as m
from simsip.scenario.raw import HOST_NUMBER_RE, NAME_RE, QUANTITY_RE

_PLAIN_YAML = re.compile(r"[A-Za-z0-9_$<>=!*.\-/%@][A-Za-z0-9_ $<>=!*.,\-/%@:()\[\]]*")


# ------------------------------------------------------------------ numbers


def _dec(value: float) -> Decimal:
    """The shortest decimal that reads back as ``value``."""
    return Decimal(repr(float(value)))


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros."""
    text = format(value.normalize(), "f")
    return text


def fmt_duration(seconds: float) -> str:
    """``0.05`` -> ``50ms``; ``2.0`` -> ``2s``; ``120.0`` -> ``2min``."""
    d = _dec(seconds)
    if d == 0:
        return "0s"
    if d < 1:
        return _plain(d * 1000) + "ms"
    if d >= 60 and d % 60 == 0 and d < 3600:
        return _plain(d / 60) + "min"
    return _plain(d) + "s"


def fmt_ms(ms: float) -> str:
    """An expectation in ms: ``4000.0`` -> ``4s``, ``250.0`` -> ``250ms``."""
    d = _dec(ms)
    if d >= 1000 and d % 1000 == 0:
        return _plain(d / 1000) + "s"
    return _plain(d) + "ms"


def fmt_percent(fraction: float) -> str:
    """``0.1`` -> ``10%``."""
    return _plain(_dec(fraction) * 100) + "%"


def fmt_rate(per_second: float) -> str:
    """``20.0`` -> ``20/s``."""
    return _plain(_dec(per_second)) + "/s"


def fmt_bandwidth(bps: float) -> str:
    """``64000.0`` -> ``64kbps``."""
    d = _dec(bps)
    for unit, scale in (("Gbps", Decimal(10) ** 9), ("Mbps", Decimal(10) ** 6), ("kbps", Decimal(1000))):
        if d >= scale and d % scale == 0:
            return _plain(d / scale) + unit
    return _plain(d) + "bps"


def fmt_number(value: float) -> str:
    """A plain number that reads back equal."""
    return _plain(_dec(value)) if isinstance(value, float) else str(value)


def _val(item: m.Item, field: str, fmt: Callable[[Any], str]) -> str:
    """A field as written: ``$param`` if it came from one, else formatted."""
    ref = item.ref(field)
    return f"${ref}" if ref is not None else fmt(getattr(item, field))


# ----------------------------------------------------------- shared pieces


# Names that would read as a keyword somewhere a name may also stand (`drop 200
# to ...`); every other keyword is safe as a bare name thanks to the contextual
# lexer (tests/scenario/test_roundtrip.py tries them all).
AMBIGUOUS_NAMES = frozenset({"to"})


def sip_name(name: str) -> str:
    """A name as `.sip` writes it: bare when it lexes as a NAME unambiguously, else quoted."""
    return name if NAME_RE.fullmatch(name) and name not in AMBIGUOUS_NAMES else sip_string(name)


def sip_host(host: str) -> str:
    """A host as `.sip` writes it: bare when it lexes as a name or an address (192.0.2.10), else quoted."""
    return host if HOST_NUMBER_RE.fullmatch(host) else sip_name(host)


def sip_string(text: str) -> str:
    """A quoted `.sip` string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def sip_target(target: str) -> str:
    """A node name or URI."""
    return target if target.startswith(("sip:", "sips:")) else sip_name(target)


def distribution(d: m.Distribution) -> str:
    """A delay or wait as written."""
    if isinstance(d, m.Constant):
        return _val(d, "value", fmt_duration)
    if isinstance(d, m.Uniform):
        return f"uniform({_val(d, 'low', fmt_duration)}, {_val(d, 'high', fmt_duration)})"
    if isinstance(d, m.Normal):
        return f"normal({_val(d, 'mean', fmt_duration)}, {_val(d, 'sd', fmt_duration)})"
    if isinstance(d, m.LogNormal):
        return f"lognormal({_val(d, 'mean', fmt_duration)}, {_val(d, 'sd', fmt_duration)})"
    return f"exponential({_val(d, 'mean', fmt_duration)})"


def loss(value: m.Loss) -> str:
    """A loss model as written."""
    if isinstance(value, m.Bernoulli):
        return _val(value, "p", fmt_percent)
    if value.form is m.GilbertForm.RATE_BURST:
        parts = [f"rate={_val(value, 'rate', fmt_percent)}", f"burst={_val(value, 'burst', fmt_number)}"]
    else:
        parts = [f"p={_val(value, 'p', fmt_percent)}", f"r={_val(value, 'r', fmt_percent)}"]
    if value.loss_good != 0.0 or value.ref("loss_good"):
        parts.append(f"good={_val(value, 'loss_good', fmt_percent)}")
    if value.loss_bad != 1.0 or value.ref("loss_bad"):
        parts.append(f"bad={_val(value, 'loss_bad', fmt_percent)}")
    return f"gilbert({', '.join(parts)})"


def event_text(event: m.Event) -> str:
    """An event as written after the node name."""
    if event.kind is m.EventKind.REQUEST:
        return event.method or ""
    if event.kind is m.EventKind.REINVITE:
        return "re-INVITE"
    if event.kind is m.EventKind.TIMEOUT:
        return "timeout"
    if event.kind is m.EventKind.CALL_ENDED:
        return "call-ended"
    text = str(event.code) if event.kind is m.EventKind.RESPONSE else str(event.code_class)
    if event.reinvite:
        return f"{text} to re-INVITE"
    return text if event.method in (None, "INVITE") else f"{text} to {event.method}"


def action_text(action: m.Action) -> str:
    """One action as a `.sip` line (also used inside YAML ``do:`` lists)."""
    if isinstance(action, m.SendResponse):
        words = ["send", _val(action, "code", str)]
        if action.reason is not None:
            words.append(sip_string(action.reason))
        if action.reliable:
            words.append("reliable")
        if action.sdp:
            words.append("sdp")
        return " ".join(words)
    if isinstance(action, m.Wait):
        return f"wait {distribution(action.duration)}"
    if isinstance(action, m.Reinvite):
        words = ["reinvite"] + ([] if action.sdp else ["no-sdp"])
        if action.contact is not None:
            words += ["contact", action.contact]
        return " ".join(words)
    if isinstance(action, m.Register):
        return " ".join(["register", *_register_words(action)])
    return {m.Hangup: "hangup", m.Bye: "bye", m.Cancel: "cancel", m.Ignore: "ignore", m.SendPrack: "prack"}[type(action)]


def _register_words(item: m.Register | m.Registration) -> list[str]:
    """Options of a REGISTER (mode, contacts, expires)."""
    words: list[str] = []
    if item.mode is m.RegisterMode.QUERY:
        words.append("query")
    elif item.mode is m.RegisterMode.REMOVE_ALL:
        words.append("remove-all")
    if item.contacts:
        words += ["contact", ", ".join(sip_target(c) for c in item.contacts)]
    if item.expires is not None:
        words += ["expires", _val(item, "expires", fmt_duration)]
    return words


def expect_text(e: m.Expectation) -> str:
    """An expectation without the leading ``expect``."""
    words: list[str] = []
    if e.call is not None:
        words += ["call", _val(e, "call", str)]
    if e.statistic is m.Statistic.SHARE:
        assert isinstance(e.value, m.Outcome)
        return " ".join([*words, "share", e.value.value, e.comparison.value, _val(e, "share", fmt_percent)])
    if e.statistic is not None:
        words.append(e.statistic.value)
        if e.statistic is m.Statistic.N and e.measure == "outcome":
            return " ".join([*words, e.comparison.value, _val(e, "value", str)])
    words.append(e.measure)
    kind = m.MEASURES.get(e.measure)
    if isinstance(e.value, m.Outcome):
        value = e.value.value
    elif kind is m.MeasureKind.DURATION_MS and e.statistic is not m.Statistic.N:  # `n pdd_ms` counts calls
        ref = e.ref("value")
        value = f"${ref}" if ref else fmt_ms(float(e.value))
    else:
        value = _val(e, "value", fmt_number)
    if e.comparison is m.Comparison.EQ and isinstance(e.value, m.Outcome):
        return " ".join([*words, value])
    return " ".join([*words, e.comparison.value, value])


def _tags(tags: tuple[str, ...]) -> str:
    """Option tags."""
    return ", ".join(tags)


def _creds(creds: tuple[m.Credentials, ...]) -> str:
    """``user:password@realm, ...``."""
    parts = []
    for c in creds:
        text = f"{sip_name(c.user)}:{sip_name(c.password) if not c.password[:1].isdigit() else sip_string(c.password)}"
        if c.realm is not None:
            text += f"@{sip_host(c.realm)}"
        parts.append(text)
    return ", ".join(parts)


def _pool(pool: m.Pool) -> str:
    """A pool as written."""
    if pool.pattern is not None:
        return pool.pattern
    if len(pool.members) == 1:
        return sip_target(pool.members[0])
    return "[" + ", ".join(sip_name(n) for n in pool.members) + "]"


# --------------------------------------------------------------- node opts


def node_options(node: m.SipNode) -> list[tuple[str, Any]]:
    """Options of a node: (keyword, text or True for a flag), in `.sip` order."""
    opts: list[tuple[str, Any]] = []
    if isinstance(node, m.UserAgent):
        if node.supports:
            opts.append(("supports", list(node.supports)))
        if node.requires:
            opts.append(("requires", list(node.requires)))
        if not node.auto_prack:
            opts.append(("no-auto-prack", True))
        if not node.auto_trying:
            opts.append(("no-trying", True))
        if not node.answer_sdp:
            opts.append(("no-answer-sdp", True))
        if node.host is not None:
            opts.append(("host", node.host))
        if node.domain is not None:
            opts.append(("domain", node.domain))
        if node.outbound:
            opts.append(("outbound", list(node.outbound)))
        if node.credentials:
            opts.append(("credentials", list(node.credentials)))
    elif isinstance(node, m.Proxy):
        opts.append((node.mode.value, True))
        if node.record_route:
            opts.append(("record-route", True))
        if node.forking is not m.Forking.PARALLEL:
            opts.append(("forking", node.forking.value))
        if node.registrar:
            opts.append(("registrar", True))
        if node.host is not None:
            opts.append(("host", node.host))
        if node.domains:
            opts.append(("domain", list(node.domains)))
        if node.auth is not None:
            opts.append(("auth", node.auth))
        if not node.auto_trying:
            opts.append(("no-trying", True))
        if node.timeout_code != 408 or node.ref("timeout_code"):
            opts.append(("timeout-response", _val(node, "timeout_code", str)))
        if node.branch_timeout is not None:
            opts.append(("branch-timeout", _val(node, "branch_timeout", fmt_duration)))
    elif isinstance(node, m.RedirectServer):
        if node.host is not None:
            opts.append(("host", node.host))
        if node.domains:
            opts.append(("domain", list(node.domains)))
        if node.code != 302 or node.ref("code"):
            opts.append(("code", _val(node, "code", str)))
    else:
        if node.host is not None:
            opts.append(("host", node.host))
        if node.domains:
            opts.append(("domain", list(node.domains)))
        if node.outbound:
            opts.append(("outbound", list(node.outbound)))
        if not node.rewrite_sdp:
            opts.append(("no-rewrite-sdp", True))
    return opts


def link_options(link: m.Link) -> list[tuple[str, str]]:
    """Options of a link: (keyword, text)."""
    opts = [("delay", distribution(link.delay))]
    if link.jitter or link.ref("jitter"):
        opts.append(("jitter", _val(link, "jitter", fmt_duration)))
    if not (isinstance(link.loss, m.Bernoulli) and link.loss.p == 0 and not link.loss.refs):
        opts.append(("loss", loss(link.loss)))
    if link.duplicate or link.ref("duplicate"):
        opts.append(("duplicate", _val(link, "duplicate", fmt_percent)))
    if link.reorder or link.ref("reorder") or link.reorder_delay is not None:
        text = _val(link, "reorder", fmt_percent)
        if link.reorder_delay is not None:
            text += " by " + _val(link, "reorder_delay", fmt_duration)
        opts.append(("reorder", text))
    if link.bandwidth is not None:
        opts.append(("bandwidth", _val(link, "bandwidth", fmt_bandwidth)))
    if link.transport is not None:
        opts.append(("transport", link.transport.value.lower()))
    return opts


def _workload_options(item: m.Call | m.CallStream) -> list[tuple[str, Any]]:
    """Options shared by calls and streams."""
    opts: list[tuple[str, Any]] = []
    if item.require:
        opts.append(("require", list(item.require)))
    if item.supported:
        opts.append(("supported", list(item.supported)))
    if not item.sdp:
        opts.append(("no-sdp", True))
    return opts


def stream_options(s: m.CallStream) -> list[tuple[str, Any]]:
    """Options of a call stream."""
    opts: list[tuple[str, Any]] = []
    if s.arrival is m.Arrival.POISSON:
        opts.append(("poisson", _val(s, "rate", fmt_rate)))
    else:
        opts.append(("every", _val(s, "interval", fmt_duration)))
    if s.start or s.ref("start"):
        opts.append(("at", _val(s, "start", fmt_duration)))
    if s.duration is not None:
        opts.append(("for", _val(s, "duration", fmt_duration)))
    if s.count is not None:
        opts.append(("count", _val(s, "count", str)))
    if s.pick is not m.Pick.ROUND_ROBIN:
        opts.append(("pick", s.pick.value))
    return opts + _workload_options(s)


# ---------------------------------------------------------------- the .sip


def _sip_list_item(key: str, value: str) -> str:
    """One item of a listed option: option tags bare, domains as hosts, the rest as names."""
    if key in ("supports", "requires", "require", "supported"):
        return value
    return sip_host(value) if key == "domain" else sip_name(value)


def _sip_opts(opts: list[tuple[str, Any]]) -> str:
    """Options as `.sip` words."""
    words = []
    for key, value in opts:
        if value is True:
            words.append(key)
        elif key == "credentials":
            words.append(f"credentials {_creds(tuple(value))}")
        elif key == "auth":
            text = f"auth realm {sip_host(value.realm)}"
            if value.users:
                text += f" users {_creds(value.users)}"
            words.append(text)
        elif isinstance(value, list):
            words.append(f"{key} {', '.join(_sip_list_item(key, v) for v in value)}")
        elif key in ("host", "domain"):
            words.append(f"{key} {sip_host(value)}")
        else:
            words.append(f"{key} {value}")
    return (" " + " ".join(words)) if words else ""


def to_sip(s: m.Scenario) -> str:
    """The scenario in the `.sip` language."""
    out: list[str] = []
    if s.name:
        out.append(f"scenario {sip_string(s.name)}")
    if s.description:
        out.append(f"description {sip_string(s.description)}")
    if out:
        out.append("")
    for p in s.params:
        out.append(f"param {p.name} = {sip_string(p.text) if p.kind is m.ParamKind.STRING else p.text}")
    timers = _timer_words(s.timers)
    if timers:
        out.append("timers " + " ".join(f"{k}={v}" for k, v in timers))
    if s.transport is not m.Transport.UDP:
        out.append(f"transport {s.transport.value.lower()}")
    if s.params or timers or s.transport is not m.Transport.UDP:
        out.append("")
    for node in s.nodes:
        out.append(f"{node.kind.value} {sip_name(node.name)}{_sip_opts(node_options(node))}")
    for loc in s.locations:
        out.append(f"location {loc.aor} -> {', '.join(sip_target(c) for c in loc.contacts)}")
    if s.nodes or s.locations:
        out.append("")
    for link in s.links:
        arrow = "<->" if link.bidirectional else "->"
        opts = " ".join(f"{k} {v}" for k, v in link_options(link))
        out.append(f"link {sip_name(link.a)} {arrow} {sip_name(link.b)} {opts}".rstrip())
    if s.links:
        out.append("")
    for h in s.handlers:
        out.append(f"on {sip_name(h.node)} {event_text(h.event)}:")
        out += [f"    {action_text(a)}" for a in h.actions]
        out.append("")
    for call in s.calls:
        words = [f"call {sip_name(call.caller)} -> {sip_target(call.callee)} at {_val(call, 'at', fmt_duration)}"]
        out.append(words[0] + _sip_opts(_workload_options(call)))
    for stream in s.streams:
        out.append(f"calls {_pool(stream.callers)} -> {_pool(stream.callees)}{_sip_opts(stream_options(stream))}")
    for reg in s.registrations:
        words = [f"register {sip_name(reg.ua)} at {_val(reg, 'at', fmt_duration)}", *_register_words(reg)]
        if reg.registrar is not None:
            words += ["via", sip_name(reg.registrar)]
        out.append(" ".join(words))
    for req in s.requests:
        line = f"request {req.method} {sip_name(req.source)} -> {sip_target(req.target)} at {_val(req, 'at', fmt_duration)}"
        if req.rack is not None:
            line += f" rack {sip_string(req.rack)}"
        out.append(line)
    if s.calls or s.streams or s.registrations or s.requests:
        out.append("")
    for fault in s.faults:
        out.append(fault_sip(fault))
    if s.faults:
        out.append("")
    for e in s.expectations:
        out.append(f"expect {expect_text(e)}")
    if s.limits.stop_at is not None:
        out.append(f"stop at {_val(s.limits, 'stop_at', fmt_duration)}")
    if s.limits.max_events is not None:
        out.append(f"max events {_val(s.limits, 'max_events', str)}")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def _timer_words(t: m.Timers) -> list[tuple[str, str]]:
    """T1/T2/T4 that differ from the defaults (or come from params)."""
    defaults = m.Timers()
    words = []
    for key in ("t1", "t2", "t4"):
        if getattr(t, key) != getattr(defaults, key) or t.ref(key):
            words.append((key.upper(), _val(t, key, fmt_duration)))
    return words


def _message(p: m.MessagePattern) -> str:
    """A drop's message pattern."""
    text = p.method or (str(p.code) if p.code is not None else str(p.code_class))
    return text if p.cseq_method is None else f"{text} to {p.cseq_method}"


def fault_sip(f: m.Fault) -> str:
    """One fault as a `.sip` line."""
    if isinstance(f, m.Drop):
        head = "drop all" if f.count is None else "drop"
        line = f"{head} {_message(f.message)} {sip_name(f.source)} -> {sip_name(f.target)}"
        if f.count not in (None, 1) or f.ref("count"):
            line += f" count {_val(f, 'count', str)}"
        if f.after or f.ref("after"):
            line += f" after {_val(f, 'after', fmt_duration)}"
        return line
    at = _val(f, "at", fmt_duration)
    if isinstance(f, (m.LinkDown, m.LinkUp)):
        line = f"at {at} link {sip_name(f.a)} <-> {sip_name(f.b)} {'down' if isinstance(f, m.LinkDown) else 'up'}"
    else:
        line = f"at {at} node {sip_name(f.node)} {'crash' if isinstance(f, m.NodeCrash) else 'restart'}"
    if isinstance(f, (m.LinkDown, m.NodeCrash)) and f.duration is not None:
        line += f" for {_val(f, 'duration', fmt_duration)}"
    return line


# ------------------------------------------------------------------- YAML


def yaml_scalar(text: str) -> str:
    """A YAML scalar: plain when it reads back as the same string, else double-quoted."""
    if text and _PLAIN_YAML.fullmatch(text) and ": " not in text and " #" not in text \
            and text == text.strip() and not text.endswith(":"):
        if QUANTITY_RE.fullmatch(text):
            # The reader takes a plain scalar's text as written, so numbers stay plain.
            return text
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def _yaml_value(value: Any) -> str:
    """An option value in YAML."""
    if value is True:
        return "true"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, m.Credentials):
        text = f"{value.user}:{value.password}" + (f"@{value.realm}" if value.realm is not None else "")
        return json.dumps(text, ensure_ascii=False)
    return yaml_scalar(str(value))


def to_yaml(s: m.Scenario) -> str:
    """The scenario in the YAML surface."""
    out: list[str] = []
    if s.name:
        out.append(f"scenario: {yaml_scalar(s.name)}")
    if s.description:
        out.append(f"description: {yaml_scalar(s.description)}")
    if s.params:
        out.append("params:")
        for p in s.params:
            text = json.dumps(p.text) if p.kind is m.ParamKind.STRING else yaml_scalar(p.text)
            out.append(f"  {yaml_scalar(p.name)}: {text}")
    timers = _timer_words(s.timers)
    if timers:
        out.append("timers: {" + ", ".join(f"{k}: {yaml_scalar(v)}" for k, v in timers) + "}")
    if s.transport is not m.Transport.UDP:
        out.append(f"transport: {s.transport.value.lower()}")
    if s.nodes:
        out.append("nodes:")
        for node in s.nodes:
            out.append(f"  - {node.kind.value}: {yaml_scalar(node.name)}")
            for key, value in node_options(node):
                if key == "auth":
                    out.append("    auth:")
                    out.append(f"      realm: {yaml_scalar(value.realm)}")
                    if value.users:
                        out.append(f"      users: {_yaml_value(list(value.users))}")
                    continue
                out.append(f"    {key}: {_yaml_value(value)}")
    if s.locations:
        out.append("locations:")
        for loc in s.locations:
            out.append(f"  - location: {yaml_scalar(loc.aor)}")
            out.append(f"    contacts: {_yaml_value(list(loc.contacts))}")
    if s.links:
        out.append("links:")
        for link in s.links:
            arrow = "<->" if link.bidirectional else "->"
            out.append(f"  - link: {yaml_scalar(f'{sip_name(link.a)} {arrow} {sip_name(link.b)}')}")
            for key, value in link_options(link):
                out.append(f"    {key}: {yaml_scalar(value)}")
    if s.handlers:
        out.append("handlers:")
        for h in s.handlers:
            out.append(f"  - on: {yaml_scalar(f'{sip_name(h.node)} {event_text(h.event)}')}")
            out.append("    do:")
            out += [f"      - {yaml_scalar(action_text(a))}" for a in h.actions]
    if s.calls or s.streams or s.registrations or s.requests:
        out.append("workload:")
        for call in s.calls:
            out.append(f"  - call: {yaml_scalar(f'{sip_name(call.caller)} -> {sip_target(call.callee)}')}")
            out.append(f"    at: {yaml_scalar(_val(call, 'at', fmt_duration))}")
            out += [f"    {k}: {_yaml_value(v)}" for k, v in _workload_options(call)]
        for stream in s.streams:
            out.append(f"  - calls: {yaml_scalar(f'{_pool(stream.callers)} -> {_pool(stream.callees)}')}")
            out += [f"    {k}: {_yaml_value(v)}" for k, v in stream_options(stream)]
        for reg in s.registrations:
            out.append(f"  - register: {yaml_scalar(reg.ua)}")
            out.append(f"    at: {yaml_scalar(_val(reg, 'at', fmt_duration))}")
            if reg.mode is m.RegisterMode.QUERY:
                out.append("    query: true")
            elif reg.mode is m.RegisterMode.REMOVE_ALL:
                out.append("    remove-all: true")
            if reg.contacts:
                out.append(f"    contact: {_yaml_value(list(reg.contacts))}")
            if reg.expires is not None:
                out.append(f"    expires: {yaml_scalar(_val(reg, 'expires', fmt_duration))}")
            if reg.registrar is not None:
                out.append(f"    via: {yaml_scalar(reg.registrar)}")
        for req in s.requests:
            target = f"{req.method} {sip_name(req.source)} -> {sip_target(req.target)}"
            out.append(f"  - request: {yaml_scalar(target)}")
            out.append(f"    at: {yaml_scalar(_val(req, 'at', fmt_duration))}")
            if req.rack is not None:
                out.append(f"    rack: {json.dumps(req.rack)}")
    if s.faults:
        out.append("faults:")
        for f in s.faults:
            out += _yaml_fault(f)
    if s.expectations:
        out.append("expect:")
        out += [f"  - {yaml_scalar(expect_text(e))}" for e in s.expectations]
    if s.limits.stop_at is not None:
        out.append(f"stop-at: {yaml_scalar(_val(s.limits, 'stop_at', fmt_duration))}")
    if s.limits.max_events is not None:
        out.append(f"max-events: {yaml_scalar(_val(s.limits, 'max_events', str))}")
    return "\n".join(out) + "\n"


def _yaml_fault(f: m.Fault) -> list[str]:
    """One fault as YAML lines."""
    if isinstance(f, m.Drop):
        lines = [f"  - drop: {yaml_scalar(_message(f.message))}", f"    from: {yaml_scalar(f.source)}",
                 f"    to: {yaml_scalar(f.target)}"]
        if f.count is None:
            lines.append("    all: true")
        elif f.count != 1 or f.ref("count"):
            lines.append(f"    count: {yaml_scalar(_val(f, 'count', str))}")
        if f.after or f.ref("after"):
            lines.append(f"    after: {yaml_scalar(_val(f, 'after', fmt_duration))}")
        return lines
    lines = [f"  - at: {yaml_scalar(_val(f, 'at', fmt_duration))}"]
    if isinstance(f, (m.LinkDown, m.LinkUp)):
        lines.append(f"    link: {yaml_scalar(f'{sip_name(f.a)} <-> {sip_name(f.b)}')}")
        lines.append(f"    {'down' if isinstance(f, m.LinkDown) else 'up'}: true")
    else:
        lines.append(f"    node: {yaml_scalar(f.node)}")
        lines.append(f"    {'crash' if isinstance(f, m.NodeCrash) else 'restart'}: true")
    if isinstance(f, (m.LinkDown, m.NodeCrash)) and f.duration is not None:
        lines.append(f"    for: {yaml_scalar(_val(f, 'duration', fmt_duration))}")
    return lines


def write(scenario: m.Scenario, surface: str) -> str:
    """The scenario as ``"sip"`` or ``"yaml"`` text."""
    return to_yaml(scenario) if surface == "yaml" else to_sip(scenario)
