"""Explanations: every event of a run annotated with the rule behind it and its RFC section.

"RFC 3262 §3: reliable 180 retransmitted after 1 s, no PRACK yet". The rules
are read off the trace alone (what was sent, by whom, what had been received
before, how long since the previous copy), so an explanation never claims
more than the run shows.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from simsip.net.network import DROP_FAULT
from simsip.viz.flow import (
    DROP,
    RECV,
    SEND,
    STATE,
    TIMER,
    only_run,
    select,
    timer_name,
    transmission_label,
    tx_key,
)

# Which figure of RFC 3261 (and RFC 6026 section) each transaction machine follows.
MACHINE_SECTIONS = {
    "INVITE client": "RFC 3261 §17.1.1 (Figure 5), RFC 6026 §7.2",
    "non-INVITE client": "RFC 3261 §17.1.2 (Figure 6)",
    "INVITE server": "RFC 3261 §17.2.1 (Figure 7), RFC 6026 §7.1",
    "non-INVITE server": "RFC 3261 §17.2.2 (Figure 8)",
}

# Timer label -> (section, what its firing means).
TIMER_RULES: dict[str, tuple[str, str]] = {
    "A": ("RFC 3261 §17.1.1.2", "Timer A fired in Calling: retransmit the INVITE and double the interval"),
    "B": ("RFC 3261 §17.1.1.2", "Timer B fired (64*T1): no final response, the INVITE transaction times out"),
    "C": ("RFC 3261 §16.6 item 11", "Timer C fired: the proxy gives up on this branch (CANCEL or 408)"),
    "D": ("RFC 3261 §17.1.1.2", "Timer D fired: stop absorbing retransmitted finals, transaction terminated"),
    "E": ("RFC 3261 §17.1.2.2", "Timer E fired: retransmit the request (interval doubles, capped at T2)"),
    "F": ("RFC 3261 §17.1.2.2", "Timer F fired (64*T1): no final response, the transaction times out"),
    "G": ("RFC 3261 §17.2.1", "Timer G fired in Completed: retransmit the final response, no ACK yet"),
    "H": ("RFC 3261 §17.2.1", "Timer H fired (64*T1): the ACK never came, transaction terminated"),
    "I": ("RFC 3261 §17.2.1", "Timer I fired: stop absorbing ACK retransmissions, transaction terminated"),
    "J": ("RFC 3261 §17.2.2", "Timer J fired: stop answering request retransmissions, transaction terminated"),
    "K": ("RFC 3261 §17.1.2.2", "Timer K fired: stop absorbing response retransmissions, transaction terminated"),
    "L": ("RFC 6026 §8.7", "Timer L fired: the Accepted INVITE server transaction ends"),
    "M": ("RFC 6026 §8.4", "Timer M fired: the Accepted INVITE client transaction ends"),
    "trying": ("RFC 3261 §17.2.1", "200 ms passed without a TU response: send 100 Trying"),
    "nit-trying": ("RFC 4320 §4.1", "no response to the non-INVITE by the time the client's Timer E "
                   "reached T2: send 100 Trying"),
    "2xx": ("RFC 3261 §13.3.1.4", "the UAS core retransmits the 2xx (T1 doubling up to T2) until the ACK"),
    "1xx-rel": ("RFC 3262 §3", "the UAS retransmits the reliable provisional (T1, doubling) until PRACKed"),
    "prack-wait": ("RFC 3262 §3", "64*T1 without a PRACK: the UAS rejects the INVITE with a 5xx"),
    "ack-wait": ("RFC 3261 §13.3.1.4", "64*T1 without an ACK for the 2xx: the UAS ends the dialog with BYE"),
    "ack-hold": ("RFC 3261 §13.3.1.4", "32*T1 without the peer leg's ACK: the B2BUA ACKs the 2xx itself, "
                 "inside the UAS's 64*T1"),
}

REQUEST_RULES: dict[str, tuple[str, str]] = {
    "INVITE": ("RFC 3261 §13.2.1, §17.1.1", "the UAC starts an INVITE client transaction"),
    "ACK": ("RFC 3261 §13.2.2.4", "the UAC core ACKs the 2xx end to end (a new request, no transaction)"),
    "BYE": ("RFC 3261 §15.1.1", "hang up: BYE within the dialog"),
    "CANCEL": ("RFC 3261 §9.1", "cancel the pending INVITE (same Request-URI, Call-ID, CSeq number, branch)"),
    "PRACK": ("RFC 3262 §4", "the UAC acknowledges the reliable provisional with PRACK"),
    "OPTIONS": ("RFC 3261 §11", "query capabilities with OPTIONS"),
    "REGISTER": ("RFC 3261 §10.2", "register a contact binding with the registrar"),
    "UPDATE": ("RFC 3311 §5.1", "UPDATE the session before the INVITE completes"),
    "INFO": ("RFC 6086 §4.2", "INFO within the dialog"),
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """One event and the rule behind it."""

    t: float
    node: str
    event: str
    what: str
    section: str
    rule: str

    def __str__(self) -> str:
        """``<section>: <rule>``, the words shown under the event."""
        return f"{self.section}: {self.rule}" if self.section else self.rule


def _seconds(dt: float) -> str:
    """A duration for prose: "1 s", "0.5 s", "40 ms"."""
    if dt >= 1.0 or dt == 0.0:
        return f"{dt:g} s" if abs(dt - round(dt, 3)) < 1e-9 else f"{dt:.3f} s"
    ms = dt * 1000.0
    return f"{ms:.0f} ms" if abs(ms - round(ms)) < 1e-6 else f"{ms:.1f} ms"


def _timer_label(timer: str | None) -> str | None:
    """The RFC label of a timer, from a label ("A") or a full name ("z9hG4bK1/A")."""
    if not timer:
        return None
    return timer.rsplit("/", 1)[-1]


def _status(message: str) -> int | None:
    """Status code of a response label, None for a request."""
    return int(message[:3]) if message[:3].isdigit() else None


def _drop_rule(ev: Any) -> str:
    """Who lost a packet: a link (and why), a `drop` fault, or the network before any link (no route, node down)."""
    why = f" ({ev.detail})" if ev.detail else ""
    if ev.link is not None:
        return f"link {ev.link} lost the packet{why}"
    hop = f"{ev.src or ev.node} -> {ev.dst}"
    if ev.detail == DROP_FAULT:
        return f"a drop fault removed the packet {hop} before it reached a link"
    return f"the packet {hop} never reached a link{why}"


def _machine_of(detail: str) -> str | None:
    """Which transaction machine a state-change detail names, if any."""
    for name in sorted(MACHINE_SECTIONS, key=len, reverse=True):
        if name.lower() in detail.lower():
            return name
    return None


def explain(
    events: Iterable[Any],
    nodes: Sequence[str] | None = None,
    run: int | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
    call_id: str | None = None,
    include_recv: bool = True,
) -> list[Explanation]:
    """Annotate every event of one run (within the window and call) with its rule."""
    events = list(events)
    run = only_run(events, run)
    out: list[Explanation] = []
    # Per node: what it has received (for "a proxy forwards") and its last copy of each message.
    received: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    last_copy: dict[tuple[Any, ...], float] = {}
    got_2xx: set[tuple[str, str | None, str | None]] = set()
    in_flight: dict[tuple[Any, ...], deque[float]] = defaultdict(deque)
    # (node, call) pairs whose UAS gave up waiting for a PRACK (RFC 3262 §3).
    unacknowledged: set[tuple[str, str | None]] = set()
    run_events = select(events, run=run)
    for ev in run_events:
        visible = not (
            (t_from is not None and ev.t < t_from)
            or (t_to is not None and ev.t > t_to)
            or (call_id is not None and ev.call_id != call_id)
        )
        kind = ev.event
        msg = ev.message or ""
        if kind == SEND:
            in_flight[tx_key(ev)].append(ev.t)
        elif kind == "app" and (ev.detail or "").startswith("reliability-failure"):
            unacknowledged.add((ev.node, ev.call_id))
        elif kind == DROP and (ev.transport or "") != "TCP":
            sent = in_flight[tx_key(ev)]
            if sent:
                sent.popleft()
        if kind == RECV:
            received[ev.node].add((ev.call_id, ev.cseq, msg))
            status = _status(msg)
            if status is not None and 200 <= status < 300 and (ev.cseq or "").endswith("INVITE"):
                got_2xx.add((ev.node, ev.call_id, (ev.cseq or "").split()[0] if ev.cseq else None))
            sent = in_flight[tx_key(ev)]
            sent_at = sent.popleft() if sent else None
            if visible and include_recv:
                delay = f" after {_seconds(ev.t - sent_at)}" if sent_at is not None else ""
                out.append(Explanation(ev.t, ev.node, kind, f"{msg} from {ev.src}",
                                       "network", f"delivered{delay}"))
            continue
        if not visible:
            if kind == SEND:
                last_copy[(ev.src or ev.node, ev.dst, msg, ev.call_id, ev.cseq, ev.rseq)] = ev.t
            continue
        if kind == SEND:
            what = f"{transmission_label(msg, ev.retransmission or 0, ev.timer)} -> {ev.dst}"
            key = (ev.src or ev.node, ev.dst, msg, ev.call_id, ev.cseq, ev.rseq)
            prev = last_copy.get(key)
            last_copy[key] = ev.t
            if (ev.node, ev.call_id) in unacknowledged and (_status(msg) or 0) >= 500 and not ev.retransmission:
                section, rule = "RFC 3262 §3", f"no PRACK within 64*T1: the UAS rejects the INVITE with {msg}"
            else:
                section, rule = _send_rule(ev, prev, received[ev.node], got_2xx)
            out.append(Explanation(ev.t, ev.node or ev.src, kind, what, section, rule))
        elif kind == DROP:
            out.append(Explanation(ev.t, ev.node or ev.src or "", kind, f"{msg} {ev.src or ev.node} -> {ev.dst}",
                                   "network", _drop_rule(ev)))
        elif kind == TIMER:
            label = _timer_label(ev.timer)
            section, rule = TIMER_RULES.get(label or "", ("", f"{timer_name(label) or 'timer'} fired"))
            out.append(Explanation(ev.t, ev.node, kind, timer_name(label) or "timer", section, rule))
        elif kind == STATE:
            detail = ev.detail or ""
            machine = _machine_of(detail)
            change = detail.rsplit(": ", 1)[-1]  # "<machine>: <old> -> <new>"
            if machine is not None:
                section = MACHINE_SECTIONS[machine]
                rule = f"{machine} transaction {change}"
            elif detail.lower().startswith("dialog"):
                section, rule = "RFC 3261 §12, RFC 5407 §2", f"dialog {change}"
            elif detail.lower().startswith("proxy"):
                section, rule = "RFC 3261 §16", f"proxy context {change}"
            else:
                section, rule = "", detail or "state change"
            out.append(Explanation(ev.t, ev.node, kind, detail, section, rule))
        else:
            section, rule = _app_rule(ev)
            out.append(Explanation(ev.t, ev.node, kind, _note_words(ev), section, rule))
    # The trace is in time order already; a stable sort keeps equal times in trace order.
    out.sort(key=lambda ex: ex.t)
    return out


# App event kinds (simsip.sip.events.AppEvent) -> (section, what happened).
APP_RULES: dict[str, tuple[str, str]] = {
    "request": ("RFC 3261 §8.2", "the UAS core passes the request up to the application"),
    "response": ("RFC 3261 §8.1.3", "the UAC core passes the response up to the application"),
    "timeout": ("RFC 3261 §8.1.3.1", "the transaction timed out: treated as a 408 (Request Timeout)"),
    "reliability-failure": ("RFC 3262 §3", "no PRACK within 64*T1: the reliable provisional failed, INVITE rejected"),
    "call-ended": ("RFC 3261 §15", "the call is over"),
    "discarded": ("RFC 3262 §4", "a retransmitted reliable provisional (same RSeq) is discarded, not passed up"),
    "proxy-forward": ("RFC 3261 §16.6", "the proxy core chose a target and forwards the request"),
    "proxy-response": ("RFC 3261 §16.7", "the proxy core passes the response upstream"),
    "node-crash": ("", "fault: the node crashed; its transactions, dialogs and timers are lost, and what is "
                       "sent to it is dropped until it restarts"),
    "node-restart": ("", "fault: the node restarted with a fresh core; no transaction or dialog survived"),
}


def _note_words(ev: Any) -> str:
    """Short words for an app event (kind, message, outcome)."""
    from simsip.metrics.trace import parse_app_detail

    kind, values = parse_app_detail(ev.detail)
    words = [kind or "event"] + ([ev.message] if ev.message else [])
    for key in ("outcome", "reason"):
        if key in values and not (ev.message and ev.message.endswith(values[key].replace("_", " "))):
            words.append(f"{key}={values[key]}")
    return " ".join(words)


def _app_rule(ev: Any) -> tuple[str, str]:
    """The rule behind an application event."""
    from simsip.metrics.trace import parse_app_detail

    kind, _values = parse_app_detail(ev.detail)
    if kind in APP_RULES:
        return APP_RULES[kind]
    return "", f"application (scenario behaviour): {_note_words(ev)}"


def _send_rule(ev: Any, prev: float | None, received: set[tuple[Any, ...]],
               got_2xx: set[tuple[str, str | None, str | None]]) -> tuple[str, str]:
    """The rule behind one transmission: (section, words)."""
    msg = ev.message or ""
    status = _status(msg)
    method = msg.split()[0] if status is None else ((ev.cseq or "").split()[-1] if ev.cseq else "")
    retx = int(ev.retransmission or 0)
    label = _timer_label(ev.timer)
    after = f" after {_seconds(ev.t - prev)}" if prev is not None else ""
    forwarded = (ev.call_id, ev.cseq, msg) in received
    if retx:
        if label == "A":
            return "RFC 3261 §17.1.1.2", f"Timer A: INVITE retransmitted{after}, no response yet (interval doubles)"
        if label == "E":
            return "RFC 3261 §17.1.2.2", f"Timer E: {method} retransmitted{after}, no final response yet"
        if label == "G":
            return "RFC 3261 §17.2.1", f"Timer G: {msg} retransmitted{after}, no ACK yet"
        if label == "2xx":
            return "RFC 3261 §13.3.1.4", f"{msg} to INVITE retransmitted{after} by the UAS core, no ACK yet"
        if label and label.lower().startswith("1xx"):
            return "RFC 3262 §3", f"reliable {msg.split()[0]} retransmitted{after}, no PRACK yet"
        if status is not None:
            sect = "RFC 3261 §17.2.1" if method == "INVITE" else "RFC 3261 §17.2.2"
            return sect, f"a retransmitted {method} arrived: the server transaction sends {msg} again"
        if method == "ACK":
            return "RFC 3261 §13.2.2.4", "a retransmitted 2xx arrived: the UAC core sends the ACK again"
        return "RFC 3261 §17", f"{method} sent again{after}"
    message = getattr(ev, "msg", None)
    if forwarded and method == "CANCEL" and status is None and message is not None and len(message.vias) == 1:
        # A stateful proxy does not forward a CANCEL it matched: it answers it and builds one of its
        # own per pending branch (one Via, the branch's), which only looks like a forward.
        return "RFC 3261 §16.10, §9.1", "the proxy CANCELs its pending branch: its own CANCEL, with that INVITE's branch"
    if forwarded:
        if status is None:
            return "RFC 3261 §16.6", f"the proxy forwards the {method} (adds its Via, decrements Max-Forwards)"
        return "RFC 3261 §16.7", f"the proxy forwards the {msg} upstream (removes its Via)"
    if status is not None:
        if status == 100 and method not in ("", "INVITE"):
            return ("RFC 4320 §4.1", f"no response to the {method} by the time the client's Timer E reached T2: "
                    "100 Trying tells the client it arrived and is still being worked on")
        if status == 100:
            return "RFC 3261 §17.2.1, §16.2", "100 Trying stops the client's INVITE retransmissions hop by hop"
        if status < 200:
            if ev.rseq is not None:
                return "RFC 3262 §3", f"reliable provisional (RSeq {ev.rseq}): retransmitted at T1, 2*T1, ... until PRACKed"
            return "RFC 3261 §13.3.1.1", "provisional response, sent once (not reliable)"
        if method == "PRACK":
            return "RFC 3262 §3", f"{msg} to PRACK: the reliable provisional is acknowledged, its retransmissions stop"
        if method == "INVITE":
            if status < 300:
                return "RFC 3261 §13.3.1.4", f"{msg} to INVITE: the UAS core retransmits it until the ACK arrives"
            if status == 487:
                return "RFC 3261 §9.2", "the INVITE was cancelled: 487 Request Terminated"
            return "RFC 3261 §17.2.1", f"final {msg}: Timer G retransmits it over UDP until the ACK, Timer H gives up"
        return "RFC 3261 §17.2.2", f"final {msg} to {method}"
    if method == "ACK":
        seq = (ev.cseq or "").split()[0] if ev.cseq else None
        if (ev.node or ev.src, ev.call_id, seq) in got_2xx:
            return REQUEST_RULES["ACK"]
        return "RFC 3261 §17.1.1.3", "the INVITE client transaction ACKs the non-2xx final (hop by hop)"
    if method == "PRACK" and ev.rack:
        return "RFC 3262 §4", f"PRACK acknowledges the reliable provisional (RAck {ev.rack})"
    if method in REQUEST_RULES:
        return REQUEST_RULES[method]
    return "RFC 3261 §8.1", f"the UAC sends {method}"


def explain_text(explanations: Iterable[Explanation]) -> str:
    """Two lines per event: time, node and event; then the rule and its RFC section."""
    lines = []
    for ex in explanations:
        lines.append(f"{ex.t:9.3f}  {ex.node:<10} {ex.event:<5} {ex.what}")
        lines.append(f"{'':11}{ex}")
    return "\n".join(lines) + ("\n" if lines else "")
