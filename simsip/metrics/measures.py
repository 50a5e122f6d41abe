"""Per-call measures, folded in ONE place from the trace event stream.

:class:`CallFolder` takes the events of one run, in the order the engine emits
them, and keeps a few counters per Call-ID; :meth:`CallFolder.records` turns
them into the per-call records of DESIGN.md "Measures", stored column-wise in
a :class:`CallTable`. Nothing else in simsip computes a measure.

Record schema (one row per call = per Call-ID whose first INVITE was sent;
times in ms from the first transmission of that INVITE; "UAC" is the node that
sent it):

| field | type | definition |
| --- | --- | --- |
| ``run`` | int | run index |
| ``call_id`` | str | Call-ID |
| ``outcome`` | str | see :data:`OUTCOMES` and the rules below |
| ``final_code`` | int or None | code of the first final response (2xx-6xx) to the INVITE received at the UAC; 408 when Timer B fired first (RFC 3261 §8.1.3.1) |
| ``final_ms`` | float or None | first INVITE transmission -> that final response received |
| ``pdd_ms`` | float or None | first INVITE transmission -> first 180-189 received at the UAC before the final response (and before Timer B: a late 18x matches no transaction) |
| ``invite_retransmissions`` | int | transmissions by the UAC of the call's initial INVITE, minus 1 (a resend with a new CSeq, after Timer B, a 3xx-6xx or a 401/407, counts as the same INVITE) |
| ``reliable_1xx_retransmissions`` | int | at each UAS: transmissions of each reliable provisional (code, RSeq) - 1, summed |
| ``prack_retransmissions`` | int | PRACK transmissions by the UAC - distinct PRACKs |
| ``prack_count`` | int | distinct PRACKs (CSeq, RAck) sent by the UAC |
| ``ok_retransmissions`` | int | at each UAS: transmissions of its 2xx to the INVITE - 1, summed |
| ``messages_sent`` | int | every ``send`` event of the Call-ID, all nodes, all methods |
| ``messages_lost`` | int | every ``drop`` event of the Call-ID |
| ``session_request_delay_ms`` | float or None | RFC 6076 §4.3.1 successful SRD: to the first 101-199 or 2xx |
| ``failed_session_request_delay_ms`` | float or None | RFC 6076 §4.3.2 failed SRD: to a 4xx-6xx that came before any 101-199 |
| ``session_disconnect_delay_ms`` | float or None | RFC 6076 §4.4: first BYE sent -> its 2xx received, or its timeout |
| ``completed`` | bool | RFC 6076 §4.9: answered, and a BYE of the call got a 2xx |

Who is who: the UAS of a call is any node that sends a response to the
initial INVITE (same CSeq) without having received that response (same code
and RSeq) itself. Proxies receive a response before forwarding it, so they are
never counted; a proxy that answers on its own (e.g. a reliable 1xx, RFC 3262
§3) is. Several UASes (forking, one Call-ID, several To tags) are each counted.

Outcome (first rule that applies):

1. a 2xx final received -> ``answered``;
2. the UAS gave up waiting for a PRACK (its ``prack-wait`` timer fired, or an
   ``app`` ``reliability-failure`` event at a node other than the UAC) before
   the UAC sent any CANCEL -> ``reliability_failure``;
3. the UAC sent a CANCEL -> ``cancelled``;
4. the UAC's Timer B fired with no final response, or the final is 408 ->
   ``timeout`` (RFC 3261 §8.1.3.1 treats a transaction timeout as a 408);
5. a final >= 300 -> ``rejected``;
6. no final and none of the above: the outcome of an ``app`` ``call-ended``
   event at the UAC if it names one, else ``incomplete`` (the run ended first).

A final response received after Timer B fired, with no INVITE sent since
(a stray late 2xx), is not the call's final response. When the UAC sends the
initial INVITE again with a new CSeq (next outbound proxy after Timer B,
RFC 3263 §4.3; credentials after a 401/407, RFC 3261 §22.2; the contact of a
3xx, and the next contact after a failure, RFC 3261 §8.1.3.4), the measures
follow the new CSeq and the 3xx-6xx or Timer B before it is forgotten;
``final_ms`` still counts from the first transmission. The retransmission
counts add up over every CSeq of the initial INVITE: a UAS's 2xx or reliable
1xx to the earlier CSeq counts whether it is sent before or after the new one.
"""

from __future__ import annotations

import math
from abc import _abc_init  # type: ignore[attr-defined]  # see after CallTable
import struct
from array import array
from operator import attrgetter
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Sequence

OUTCOMES = ("answered", "rejected", "timeout", "reliability_failure", "cancelled", "incomplete")
"""Every outcome a call record can have, in report order."""

_OUTCOME_CODE = {name: i for i, name in enumerate(OUTCOMES)}

RECORD_FIELDS = (
    "run",
    "call_id",
    "outcome",
    "final_code",
    "final_ms",
    "pdd_ms",
    "invite_retransmissions",
    "reliable_1xx_retransmissions",
    "prack_retransmissions",
    "prack_count",
    "ok_retransmissions",
    "messages_sent",
    "messages_lost",
    "session_request_delay_ms",
    "failed_session_request_delay_ms",
    "session_disconnect_delay_ms",
    "completed",
)
"""Field names of a call record, in column order (CSV header)."""

# Column storage type of each field ("s" = list of str, "o" = outcome code).
_COLUMN_TYPES = {
    "run": "i",
    "call_id": "s",
    "outcome": "o",
    "final_code": "h",  # 0 stands for None
    "final_ms": "d",  # NaN stands for None
    "pdd_ms": "d",
    "invite_retransmissions": "i",
    "reliable_1xx_retransmissions": "i",
    "prack_retransmissions": "i",
    "prack_count": "i",
    "ok_retransmissions": "i",
    "messages_sent": "i",
    "messages_lost": "i",
    "session_request_delay_ms": "d",
    "failed_session_request_delay_ms": "d",
    "session_disconnect_delay_ms": "d",
    "completed": "b",
}

_NAN = float("nan")
# Rows a CallTable keeps as tuples before it moves them into its columns (see CallTable._rows).
_ROWS_PER_FLUSH = 4096
_ORDER = attrgetter("order")


def _ms(seconds: float) -> float:
    """Seconds -> milliseconds, rounded to the nanosecond to drop float noise: ``round(ms, 6)``."""
    ms = seconds * 1000.0
    # round(ms, 6) is correctly rounded through a decimal string (~2,500 instructions). Below
    # 2**33 ns the scaled value is off the exact count by under 1e-6, so when its fraction is not
    # within 1e-4 of a half the nearest whole count is certain, and dividing it by 10**6 (both
    # exact) is the same correctly rounded double. Ties and the rest take round() itself.
    ns = ms * 1e6
    if 0.0 < ns < 8e9:
        whole = float(math.floor(ns + 0.5))
        if abs(ns - whole) < 0.4999:
            return whole / 1e6
    return round(ms, 6)


# Label -> status code; labels are few ("INVITE", "180 Ringing", ...), parsing each once.
_CODE_OF_LABEL: dict[str | None, int] = {}


def _code(message: str | None) -> int:
    """Status code of a response label ("180 Ringing" -> 180); 0 for a request."""
    code = _CODE_OF_LABEL.get(message)
    if code is None:
        code = int(message[:3]) if message and "0" <= message[0] <= "9" else 0
        if len(_CODE_OF_LABEL) < 4096:  # bounded: labels come from a small vocabulary
            _CODE_OF_LABEL[message] = code
    return code


class _Call:
    """Counters of one Call-ID while its events arrive."""

    __slots__ = (
        "call_id",
        "order",
        "uac",
        "invite_cseq",
        "earlier_cseqs",
        "t0",
        "invite_tx",
        "invite_pending",
        "final_t",
        "final_code",
        "pdd_t",
        "srd_t",
        "failed_srd_t",
        "timer_b",
        "reliability_t",
        "cancel_t",
        "ended_outcome",
        "relayed",
        "uas_tx",
        "prack_tx",
        "sent",
        "lost",
        "bye_node",
        "bye_cseq",
        "bye_t",
        "sdd_t",
        "bye_ok",
    )

    def __init__(self, call_id: str) -> None:
        """Empty counters for ``call_id``."""
        self.call_id = call_id
        self.order = -1
        self.uac: str | None = None
        self.invite_cseq: str | None = None
        # CSeqs the initial INVITE had before a resend with a new one: the UAS responses
        # to them still count (and a proxy still only relays them) after the UAC moved on.
        self.earlier_cseqs: tuple[str | None, ...] | None = None
        self.t0 = 0.0
        self.invite_tx = 0
        self.invite_pending = False
        self.final_t: float | None = None
        self.final_code = 0
        self.pdd_t: float | None = None
        self.srd_t: float | None = None
        self.failed_srd_t: float | None = None
        self.timer_b = False
        self.reliability_t: float | None = None
        self.cancel_t: float | None = None
        self.ended_outcome: str | None = None
        # (node, code, rseq, cseq) of INVITE responses a node received (so it only relays them).
        self.relayed: set[tuple[str, int, int | None, str | None]] | None = None
        # (node, code, rseq, cseq) -> transmissions of INVITE responses a UAS originated.
        self.uas_tx: dict[tuple[str, int, int | None, str], int] | None = None
        # (cseq, rack) -> transmissions of that PRACK by the UAC.
        self.prack_tx: dict[tuple[str | None, str | None], int] | None = None
        self.sent = 0
        self.lost = 0
        self.bye_node: str | None = None
        self.bye_cseq: str | None = None
        self.bye_t = 0.0
        self.sdd_t: float | None = None
        self.bye_ok = False

    def outcome(self) -> str:
        """The call's outcome by the rules of the module docstring."""
        code = self.final_code
        if 200 <= code < 300:
            return "answered"
        if self.reliability_t is not None and (
            self.cancel_t is None or self.reliability_t < self.cancel_t
        ):
            return "reliability_failure"
        if self.cancel_t is not None:
            return "cancelled"
        if (self.timer_b and code == 0) or code == 408:
            return "timeout"
        if code >= 300:
            return "rejected"
        if self.ended_outcome in _OUTCOME_CODE:
            return self.ended_outcome  # type: ignore[return-value]
        return "incomplete"


class NodeCounters:
    """Per-node and per-link counters of one or more runs.

    ``nodes[name]`` is ``[sent, retransmissions, received, dropped, timers]``:
    messages the node sent, of which retransmissions (``retransmission > 0``,
    i.e. its own: a proxy's Timer A/E/G resends, a UAS's 2xx and reliable 1xx
    resends), messages delivered to it, messages it sent that a link lost, and
    timers that fired there. ``links[name]`` counts the drops of each link.
    """

    __slots__ = ("nodes", "links")
    FIELDS = ("sent", "retransmissions", "received", "dropped", "timers")

    def __init__(self) -> None:
        """No counts yet."""
        self.nodes: dict[str, list[int]] = {}
        self.links: dict[str, int] = {}

    def _node(self, name: str) -> list[int]:
        """The counter list of ``name``, created on first use."""
        counters = self.nodes.get(name)
        if counters is None:
            counters = self.nodes[name] = [0, 0, 0, 0, 0]
        return counters

    def merge(self, other: "NodeCounters") -> None:
        """Add another run's counts to these."""
        nodes = self.nodes
        for name, counts in other.nodes.items():
            mine = nodes.get(name)
            if mine is None:
                nodes[name] = list(counts)
            else:
                mine[:] = [a + b for a, b in zip(mine, counts)]
        for link, drops in other.links.items():
            self.links[link] = self.links.get(link, 0) + drops

    def to_dict(self) -> dict[str, Any]:
        """``{"nodes": {name: {field: count}}, "links": {name: {"dropped": n}}}``, sorted."""
        return {
            "nodes": {
                name: dict(zip(self.FIELDS, self.nodes[name])) for name in sorted(self.nodes)
            },
            "links": {link: {"dropped": self.links[link]} for link in sorted(self.links)},
        }


class CallFolder:
    """Folds the trace events of ONE run into per-call counters and per-node counters.

    Methods take the event fields positionally (the hot path when tracing is
    off); :meth:`feed` takes a :class:`~simsip.metrics.trace.TraceEvent`.
    Events must arrive in emission order (causal order: a proxy's ``recv`` of a
    response comes before its ``send`` of it).
    """

    __slots__ = ("run", "calls", "nodes", "_count", "_counts", "retired")
    APP_KINDS: ClassVar[frozenset[str]] = frozenset({"reliability-failure", "timeout", "call-ended"})
    """The ``app`` event kinds :meth:`app` folds; it ignores every other kind."""

    def __init__(self, run: int = 0, nodes: NodeCounters | None = None) -> None:
        """Nothing folded yet for run index ``run``; node counts go to ``nodes`` (new ones if None)."""
        self.run = run
        self.calls: dict[str, _Call] = {}
        # A batch of runs may share one NodeCounters: each run's counts add up there as they happen.
        self.nodes = NodeCounters() if nodes is None else nodes
        self._count = 0
        self._counts = self.nodes.nodes  # node -> counter list, looked up per event
        # Records of the calls already folded for good (retire_finished), in call order.
        self.retired: CallTable | None = None

    def _call(self, call_id: str) -> _Call:
        """The counters of ``call_id``, created on first sight."""
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = _Call(call_id)
        return call

    # ----------------------------------------------------------- events

    def send(
        self,
        t: float,
        node: str,
        dst: str | None,
        message: str | None,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        timer: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """Fold one ``send`` event (same arguments as ``TraceSink.send``)."""
        counters = self._counts.get(node) or self.nodes._node(node)
        counters[0] += 1
        if retransmission:
            counters[1] += 1
        if call_id is None:
            return
        call = self.calls.get(call_id) or self._call(call_id)
        call.sent += 1
        if message == "INVITE":
            if call.uac is None:
                call.uac = node
                call.invite_cseq = cseq
                call.t0 = t
                call.order = self._count
                self._count += 1
            if node == call.uac:
                if cseq != call.invite_cseq:
                    if call.final_t is None or call.final_code >= 300:
                        # The initial INVITE sent again with a new CSeq: to the next
                        # outbound proxy after Timer B (RFC 3263 §4.3), with
                        # credentials after a 401/407 (RFC 3261 §22.2), to the
                        # contact of a 3xx or, after a failure, to the next one
                        # (RFC 3261 §8.1.3.4). A re-INVITE needs a dialog a 2xx made.
                        call.earlier_cseqs = (call.earlier_cseqs or ()) + (call.invite_cseq,)
                        call.invite_cseq = cseq
                        call.final_t = call.failed_srd_t = None
                        call.final_code = 0
                        # A Timer B of the INVITE left behind is not the new one's outcome.
                        call.timer_b = False
                    else:
                        return  # a re-INVITE in an established call
                call.invite_tx += 1
                call.invite_pending = True
            return
        if node == call.uac:
            if message == "PRACK":
                if call.prack_tx is None:
                    call.prack_tx = {}
                key = (cseq, rack)
                call.prack_tx[key] = call.prack_tx.get(key, 0) + 1
            elif message == "CANCEL":
                if call.cancel_t is None:
                    call.cancel_t = t
            elif message == "BYE":
                self._bye(call, t, node, cseq)
            return
        if message == "BYE":
            self._bye(call, t, node, cseq)
            return
        if cseq is None or (cseq != call.invite_cseq and (
                call.earlier_cseqs is None or cseq not in call.earlier_cseqs)):
            return
        code = _CODE_OF_LABEL.get(message)
        if code is None:
            code = _code(message)
        if code < 101 or code >= 300:
            return
        tx_key = (node, code, rseq, cseq)  # not ``key`` (a PRACK key above): one type per name
        if call.relayed is not None and tx_key in call.relayed:
            return  # a proxy forwarding a response it received
        if rseq is None and code < 200:
            return  # unreliable provisionals are not measured at the UAS
        if call.uas_tx is None:
            call.uas_tx = {}
        call.uas_tx[tx_key] = call.uas_tx.get(tx_key, 0) + 1

    @staticmethod
    def _bye(call: _Call, t: float, node: str, cseq: str | None) -> None:
        """Remember the first BYE of the call (RFC 6076 §4.4 starts there)."""
        if call.bye_node is None:
            call.bye_node = node
            call.bye_cseq = cseq
            call.bye_t = t

    def recv(
        self,
        t: float,
        node: str,
        src: str | None,
        message: str | None,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """Fold one ``recv`` event (same arguments as ``TraceSink.recv``)."""
        counters = self._counts.get(node) or self.nodes._node(node)
        counters[2] += 1
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is None or call.uac is None:
            return
        code = _CODE_OF_LABEL.get(message)
        if code is None:
            code = _code(message)
        if code == 0:
            return
        if cseq == call.invite_cseq:
            if node != call.uac:
                if 101 <= code < 300:
                    if call.relayed is None:
                        call.relayed = set()
                    call.relayed.add((node, code, rseq, cseq))
                return
            if not call.invite_pending or call.final_t is not None:
                return
            if code >= 200:
                call.final_t = t
                call.final_code = code
                if call.srd_t is None:
                    if code < 300:
                        call.srd_t = t
                    elif code >= 400:
                        call.failed_srd_t = t
            elif code > 100:
                if call.srd_t is None:
                    call.srd_t = t
                if 180 <= code <= 189 and call.pdd_t is None:
                    call.pdd_t = t
            return
        if call.earlier_cseqs is not None and cseq in call.earlier_cseqs:
            # A response to the INVITE the UAC left behind: not the call's final or 18x, but
            # a proxy that receives it only relays it (a UAS's copies of it still count).
            if node != call.uac and 101 <= code < 300:
                if call.relayed is None:
                    call.relayed = set()
                call.relayed.add((node, code, rseq, cseq))
            return
        if (
            node == call.bye_node
            and cseq == call.bye_cseq
            and call.sdd_t is None
            and 200 <= code < 300
        ):
            call.sdd_t = t
            call.bye_ok = True

    def drop(
        self,
        t: float,
        node: str,
        src: str | None,
        dst: str | None,
        link: str | None,
        message: str | None,
        call_id: str | None,
        cseq: str | None = None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """Fold one ``drop`` event (same arguments as ``TraceSink.drop``)."""
        name = src or node
        (self._counts.get(name) or self.nodes._node(name))[3] += 1
        if link is not None:
            self.nodes.links[link] = self.nodes.links.get(link, 0) + 1
        if call_id is not None:
            self._call(call_id).lost += 1

    def timer(
        self, t: float, node: str, label: str | None, call_id: str | None, cseq: str | None = None
    ) -> None:
        """Fold one ``timer`` (fired) event (same arguments as ``TraceSink.timer``)."""
        (self._counts.get(node) or self.nodes._node(node))[4] += 1
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is None:
            return
        if label == "B":
            if node == call.uac and call.final_t is None:
                call.timer_b = True
                call.invite_pending = False
        elif label == "prack-wait":
            if node != call.uac and call.reliability_t is None:
                call.reliability_t = t
        elif label == "F":
            self._bye_timeout(call, t, node, cseq)

    @staticmethod
    def _bye_timeout(call: _Call, t: float, node: str, cseq: str | None) -> None:
        """A BYE timed out: RFC 6076 §4.4 ends the disconnect delay there."""
        if node == call.bye_node and cseq is not None and cseq == call.bye_cseq:
            if call.sdd_t is None:
                call.sdd_t = t

    def app(
        self,
        t: float,
        node: str,
        call_id: str | None,
        kind: str,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
        cseq: str | None = None,
        msg: Any = None,
    ) -> None:
        """Fold one ``app`` event (same arguments as ``TraceSink.app``)."""
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is None:
            return
        if kind == "reliability-failure":
            if node != call.uac and call.reliability_t is None:
                call.reliability_t = t
        elif kind == "timeout":
            self._bye_timeout(call, t, node, cseq)
        elif kind == "call-ended":
            if detail and node == call.uac and call.ended_outcome is None:
                outcome = detail.get("outcome")
                if outcome is not None:
                    call.ended_outcome = str(outcome)

    def state(
        self, t: float, node: str, call_id: str | None, machine: str, old: str, new: str
    ) -> None:
        """A state change: no measure depends on it (kept for ladders)."""

    def feed(self, event: Any) -> None:
        """Fold one :class:`~simsip.metrics.trace.TraceEvent` of this run."""
        kind = event.event
        if kind == "send":
            self.send(event.t, event.node, event.dst, event.message, event.call_id,
                      event.cseq, event.rseq, event.rack, event.retransmission)
        elif kind == "recv":
            self.recv(event.t, event.node, event.src, event.message, event.call_id,
                      event.cseq, event.rseq)
        elif kind == "drop":
            self.drop(event.t, event.node, event.src, event.dst, event.link, event.message,
                      event.call_id)
        elif kind == "timer":
            self.timer(event.t, event.node, event.timer, event.call_id, event.cseq)
        elif kind == "app":
            from simsip.metrics.trace import parse_app_detail

            app_kind, values = parse_app_detail(event.detail)
            self.app(event.t, event.node, event.call_id, app_kind, values, event.message,
                     event.cseq)
        elif kind != "state":
            raise ValueError(f"unknown trace event kind {kind!r}")

    # ---------------------------------------------------------- results

    def retire(self, call_id: str, table: "CallTable") -> None:
        """Move a finished call's record into ``table`` now and forget its counters.

        For long runs: the engine may call this once nothing more can happen to
        the call (all its transactions and dialogs destroyed).
        """
        call = self.calls.pop(call_id, None)
        if call is not None and call.uac is not None:
            table.append_call(self.run, call)

    def retire_finished(self, live: "set[str | None]") -> int:
        """Fold for good every call no more event can concern; return how many records were made.

        ``live`` holds the Call-IDs something can still happen to (pending timers,
        packets in flight, waiting behaviours). Calls are retired in call order
        (first INVITE) up to the first live one, so :meth:`records` gives the
        same table as without retiring; calls never started (no INVITE) and not
        live are forgotten, as :meth:`records` would leave them out. For long
        runs: the per-call counters do not pile up.
        """
        calls = self.calls
        started = []
        for call_id, call in list(calls.items()):
            if call.uac is not None:
                started.append(call)
            elif call_id not in live:
                del calls[call_id]
        started.sort(key=_ORDER)
        table = self.retired
        done = 0
        for call in started:
            if call.call_id in live:
                break
            if table is None:
                table = self.retired = CallTable()
            table.append_call(self.run, call)
            del calls[call.call_id]
            done += 1
        return done

    def records(self, table: "CallTable | None" = None) -> "CallTable":
        """Append the record of every call (in order of first INVITE) to ``table``."""
        table = CallTable() if table is None else table
        if self.retired is not None:
            table.extend(self.retired)
        started = [call for call in self.calls.values() if call.uac is not None]
        started.sort(key=_ORDER)
        for call in started:
            table.append_call(self.run, call)
        return table


def _misfit(name: str, typecode: str, values: Sequence[Any]) -> ValueError:
    """The error for the first of ``values`` that call-table column ``name`` (array ``typecode``) cannot hold."""
    value: Any = None
    for value in values:
        try:
            struct.pack(typecode, value)
        except struct.error:
            break
    if not isinstance(value, int) or typecode == "d":
        return ValueError(f"call measure {name!r}: {value!r} is not a number its column holds")
    bits = 8 * struct.calcsize(typecode)
    return ValueError(f"call measure {name!r}: {value} is out of range "
                      f"(its column holds {-(1 << (bits - 1))} to {(1 << (bits - 1)) - 1})")


class CallTable(Sequence[dict[str, Any]]):
    """Call records stored column-wise (typed arrays), read as dicts.

    About 110 bytes per call plus its Call-ID string, so a million calls fit
    in well under 1 GiB. ``table[i]`` builds the dict of one record;
    :meth:`column` gives a whole column with None for missing values.
    """

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        """An empty table, or one holding ``records`` (dicts with :data:`RECORD_FIELDS`)."""
        self._cols: dict[str, Any] = {}
        for name in RECORD_FIELDS:
            kind = _COLUMN_TYPES[name]
            self._cols[name] = [] if kind == "s" else array("b" if kind == "o" else kind)
        # New records as tuples of their stored values (RECORD_FIELDS order), moved into the
        # columns a batch at a time by pack(): one tuple per call instead of 17 array appends
        # (each a method call parsing its argument). Every reader flushes first.
        self._rows: list[tuple[Any, ...]] = []
        for record in records:
            self.append(record)

    def __len__(self) -> int:
        """Number of calls."""
        return len(self._cols["call_id"]) + len(self._rows)

    def _add(self, row: tuple[Any, ...]) -> None:
        """Add one record as its stored values, in RECORD_FIELDS order."""
        rows = self._rows
        rows.append(row)
        if len(rows) >= _ROWS_PER_FLUSH:
            self.pack()

    def pack(self) -> None:
        """Move the rows kept as tuples into the typed columns (a bulk pack per column).

        Every reader packs first; a producer that hands a finished table on (a sweep batch)
        packs it so that it is kept and sent in its compact form.
        """
        rows = self._rows
        if not rows:
            return
        # Every column is packed before any grows: a value its column cannot hold leaves the table as it was.
        packed: list[Any] = []
        for name, values in zip(RECORD_FIELDS, zip(*rows)):
            if _COLUMN_TYPES[name] == "s":
                packed.append(values)
                continue
            typecode = self._cols[name].typecode
            try:
                packed.append(struct.pack(f"{len(values)}{typecode}", *values))
            except struct.error:
                raise _misfit(name, typecode, values) from None
        self._rows = []
        for name, data in zip(RECORD_FIELDS, packed):
            col = self._cols[name]
            if isinstance(data, bytes):
                col.frombytes(data)
            else:
                col.extend(data)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        """The record at ``index`` as a dict (None where a value is missing)."""
        if isinstance(index, slice):
            raise TypeError("CallTable does not slice; use column() or iterate")
        if index < 0:
            index += len(self)
        self.pack()
        return {name: self._value(name, index) for name in RECORD_FIELDS}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Each record as a dict, in order."""
        for i in range(len(self)):
            yield self[i]

    def _value(self, name: str, index: int) -> Any:
        """One cell, decoded from its storage type."""
        raw = self._cols[name][index]
        kind = _COLUMN_TYPES[name]
        if kind == "d":
            return None if raw != raw else raw
        if kind == "o":
            return OUTCOMES[raw]
        if kind == "b":
            return bool(raw)
        if name == "final_code":
            return raw or None
        return raw

    def column(self, name: str) -> list[Any]:
        """All values of field ``name`` (None where missing)."""
        if name not in _COLUMN_TYPES:
            raise KeyError(f"no call measure named {name!r}")
        self.pack()
        kind = _COLUMN_TYPES[name]
        raw = self._cols[name]
        if kind == "d":
            return [None if v != v else v for v in raw]
        if kind == "o":
            return [OUTCOMES[v] for v in raw]
        if kind == "b":
            return [bool(v) for v in raw]
        if name == "final_code":
            return [v or None for v in raw]
        return list(raw)

    def values(self, name: str) -> list[float]:
        """The present (non-missing) values of a numeric field, as floats or ints."""
        self.pack()
        kind = _COLUMN_TYPES[name]
        raw = self._cols[name]
        if kind == "d":
            return [v for v in raw if v == v]
        if name == "final_code":
            return [v for v in raw if v]
        if kind in ("s", "o"):
            raise TypeError(f"{name} is not numeric")
        return list(raw)

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record given as a mapping with the fields of :data:`RECORD_FIELDS`."""
        row: list[Any] = []
        for name in RECORD_FIELDS:
            kind = _COLUMN_TYPES[name]
            value = record.get(name)
            if kind == "s":
                row.append(str(value))
            elif kind == "o":
                if value not in _OUTCOME_CODE:
                    raise ValueError(f"unknown outcome {value!r}")
                row.append(_OUTCOME_CODE[value])
            elif kind == "d":
                row.append(_NAN if value is None else float(value))
            elif kind == "b":
                row.append(1 if value else 0)
            else:
                row.append(0 if value is None else int(value))
        self._add(tuple(row))

    def append_call(self, run: int, call: _Call) -> None:
        """Add the record of one folded call (times in ms as :func:`_ms` rounds them)."""
        t0 = call.t0
        uas_rel = uas_ok = 0
        if call.uas_tx:
            for (_node, code, _rseq, _cseq), tx in call.uas_tx.items():
                if code < 200:
                    uas_rel += tx - 1
                else:
                    uas_ok += tx - 1
        prack_count = prack_tx = 0
        if call.prack_tx:
            prack_count = len(call.prack_tx)
            prack_tx = sum(call.prack_tx.values())
        answered = 200 <= call.final_code < 300
        outcome = call.outcome()
        final_code = call.final_code
        if final_code == 0 and outcome == "timeout":
            # RFC 3261 §8.1.3.1: a transaction timeout is reported to the UAC as a 408.
            final_code = 408
        self._add((
            run,
            call.call_id,
            _OUTCOME_CODE[outcome],
            final_code,
            _NAN if call.final_t is None else _ms(call.final_t - t0),
            _NAN if call.pdd_t is None else _ms(call.pdd_t - t0),
            max(call.invite_tx - 1, 0),
            uas_rel,
            prack_tx - prack_count,
            prack_count,
            uas_ok,
            call.sent,
            call.lost,
            _NAN if call.srd_t is None else _ms(call.srd_t - t0),
            _NAN if call.failed_srd_t is None else _ms(call.failed_srd_t - t0),
            _NAN if call.sdd_t is None else _ms(call.sdd_t - call.bye_t),
            1 if (answered and call.bye_ok) else 0,
        ))

    def extend(self, other: "CallTable") -> None:
        """Append every record of another table (e.g. another run's)."""
        self.pack()
        other.pack()
        for name in RECORD_FIELDS:
            self._cols[name].extend(other._cols[name])

    def to_records(self) -> list[dict[str, Any]]:
        """Every record as a dict (fine for thousands of calls; iterate for millions)."""
        return list(self)

    def nbytes(self) -> int:
        """Approximate memory held by the columns, Call-ID strings included."""
        import sys

        self.pack()
        total = 0
        for name, col in self._cols.items():
            if _COLUMN_TYPES[name] == "s":
                total += sys.getsizeof(col) + sum(sys.getsizeof(s) for s in col)
            else:
                total += col.itemsize * len(col) + 64
        return total

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the records (needs the ``analysis`` extra)."""
        import pandas as pd

        self.pack()
        data: dict[str, Any] = {}
        for name in RECORD_FIELDS:
            kind = _COLUMN_TYPES[name]
            if kind == "d":
                data[name] = pd.array(self._cols[name], dtype="float64")
            elif kind == "o":
                data[name] = pd.Categorical.from_codes(list(self._cols[name]), OUTCOMES)
            elif name == "final_code":
                data[name] = pd.array(self.column(name), dtype="Int16")
            elif kind == "b":
                data[name] = pd.array(self.column(name), dtype="bool")
            elif kind == "s":
                data[name] = list(self._cols[name])
            else:
                data[name] = pd.array(self._cols[name], dtype="int64")
        return pd.DataFrame(data, columns=list(RECORD_FIELDS))


# mypyc compiles CallTable without ABCMeta's set-up: it would share Sequence's registry, where
# list is registered, and every list would pass isinstance(x, CallTable). Its own registry:
_abc_init(CallTable)


def is_missing(value: Any) -> bool:
    """True for None and NaN (a measure with no value for a call)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
