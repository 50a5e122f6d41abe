"""SIP dialogs (RFC 3261 §12) with the RFC 5407 §2 dialog states.

A dialog is the peer-to-peer relationship an INVITE creates. It is
identified by Call-ID, local tag and remote tag, and remembers the local and
remote CSeq, the local and remote URI, the remote target (the peer's
Contact) and the route set (from Record-Route). RFC 3261 calls a dialog
*early* when a provisional with a To tag created it and *confirmed* after a
2xx. RFC 5407 §2 splits those phases further, which makes the race
conditions of its §3 easy to follow; :data:`DIALOG_TRANSITIONS` is that
machine:

* Preparative: no dialog yet (the INVITE is on its way);
* Early: a 1xx with a To tag was sent or received;
* Moratorium: a 2xx was sent or received, the ACK not yet;
* Established: the ACK for the 2xx was sent or received;
* Mortal: a BYE was sent or received; only the BYE (and the ACK for a 2xx)
  is still handled, other requests get 481;
* Morgue: gone (the BYE transaction ended, a 3xx-6xx ended the INVITE, or an
  early dialog was abandoned, e.g. another fork branch won).

Building requests inside the dialog follows §12.2.1.1 (Request-URI and Route
from the route set and remote target, loose and strict routing); checking
requests received inside it follows §12.2.2 (CSeq order).
"""

from __future__ import annotations

import enum
import random
from typing import TYPE_CHECKING, Final

from simsip.sip.events import StateChange

from simsip.sip.message import Headers, NameAddr, Request, tagged_name_addr

if TYPE_CHECKING:
    from simsip.sip.message import URI, Response, Via

__all__ = ["DialogState", "DialogEvent", "DIALOG_TRANSITIONS", "Dialog", "new_tag"]


def new_tag(rng: random.Random) -> str:
    """A new From/To tag: 32 random bits in hex (RFC 3261 §19.3 asks for at least 32)."""
    # "%08x" rather than an f-string format spec, which compiled code runs through str.format.
    return "%08x" % rng.getrandbits(32)


def _only_line(message: "Request | Response", key: str) -> str | None:
    """The text of the one From or To line of ``message`` (its typed value was read: there is exactly one)."""
    lines = message.headers._lines(key)  # _lines, not get: the key is known (no name lookup)
    return lines[0] if len(lines) == 1 else None


class DialogState(enum.Enum):
    """RFC 5407 §2 dialog states."""

    PREPARATIVE = "Preparative"
    EARLY = "Early"
    MORATORIUM = "Moratorium"
    ESTABLISHED = "Established"
    MORTAL = "Mortal"
    MORGUE = "Morgue"


class DialogEvent(enum.Enum):
    """Inputs of the dialog state machine (sent or received alike)."""

    PROVISIONAL = "1xx with To tag"
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    ACK = "ACK for 2xx"
    BYE = "BYE"
    BYE_DONE = "BYE transaction ended"
    ABANDON = "abandoned"


DIALOG_TRANSITIONS: dict[tuple[DialogState, DialogEvent], DialogState] = {
    (DialogState.PREPARATIVE, DialogEvent.PROVISIONAL): DialogState.EARLY,
    (DialogState.PREPARATIVE, DialogEvent.SUCCESS): DialogState.MORATORIUM,
    (DialogState.PREPARATIVE, DialogEvent.FAILURE): DialogState.MORGUE,
    (DialogState.EARLY, DialogEvent.PROVISIONAL): DialogState.EARLY,
    (DialogState.EARLY, DialogEvent.SUCCESS): DialogState.MORATORIUM,
    (DialogState.EARLY, DialogEvent.FAILURE): DialogState.MORGUE,
    # RFC 5407 §3.1.3 / Appendix A: a BYE may end an early dialog.
    (DialogState.EARLY, DialogEvent.BYE): DialogState.MORTAL,
    # RFC 3261 §13.2.2.4: early dialogs left 64*T1 after the first 2xx end.
    (DialogState.EARLY, DialogEvent.ABANDON): DialogState.MORGUE,
    (DialogState.MORATORIUM, DialogEvent.ACK): DialogState.ESTABLISHED,
    (DialogState.MORATORIUM, DialogEvent.BYE): DialogState.MORTAL,
    (DialogState.ESTABLISHED, DialogEvent.BYE): DialogState.MORTAL,
    (DialogState.MORTAL, DialogEvent.BYE_DONE): DialogState.MORGUE,
    (DialogState.MORTAL, DialogEvent.ABANDON): DialogState.MORGUE,
}

# DIALOG_TRANSITIONS as one row per state, both keyed by the members' names: a name is a plain
# attribute with a cached str hash, where hashing an Enum member runs Enum.__hash__ (a Python
# call) each time, and two string lookups cost less than building and hashing a tuple key.
_NEXT_STATE: Final[dict[str, dict[str, DialogState]]] = {state._name_: {} for state in DialogState}
for (_state, _event), _new in DIALOG_TRANSITIONS.items():
    _NEXT_STATE[_state._name_][_event._name_] = _new
del _state, _event, _new

# §8.1.1.5: CSeq numbers are below 2^31 when chosen, at most 2^32 - 1 on the wire.
MAX_CSEQ: Final = 2**32 - 1


class Dialog:
    """One dialog: identifiers, sequence numbers, route set, remote target, RFC 5407 state."""

    def __init__(
        self,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_uri: "NameAddr",
        remote_uri: "NameAddr",
        remote_target: "URI | None",
        route_set: list[str],
        local_seq: int | None,
        remote_seq: int | None,
        is_uac: bool,
        secure: bool = False,
        states: bool = True,
    ) -> None:
        """Create the dialog in Preparative; feed it events to move it (``states=False``: no StateChange)."""
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = list(route_set)
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.is_uac = is_uac
        self.secure = secure
        self.state = DialogState.PREPARATIVE
        # False for a driver that records no state changes (tracing off): feed builds none.
        self.states = states
        # RFC 3262 §4: the UAC's last in-order RSeq, per INVITE transaction.
        self.last_rseq: int | None = None
        self.last_rseq_cseq: int | None = None
        # RFC 3261 §13.2.2.4: per INVITE CSeq, the ACK built for its 2xx and how often it was
        # sent; it is resent for every retransmission of that 2xx.
        self.acks: dict[int, list] = {}
        # RFC 3262 §4: the newest in-order reliable 1xx not PRACKed yet (auto_prack=False).
        self.pending_prack: "Response | None" = None
        # [call_id] when it was read from a parsed message (what parsing it gives): the
        # requests of the dialog carry it parsed (build_request), no parse or memo entry.
        self._call_id_parsed: list[str] | None = None
        # Rendered once (identifiers and URIs are fixed once the dialog exists): the StateChange
        # name, and (on first use) the From and To values of our requests.
        self._name = f"dialog {call_id};{local_tag};{remote_tag}"
        self._from_to: tuple[str, str] | None = None
        # The From/To lines local_uri and remote_uri were parsed from (None: not known), so that
        # their text with our tags is rendered once per line prefix (tagged_name_addr).
        self._local_line: str | None = None
        self._remote_line: str | None = None
        self._given: dict[str, list] = {}  # header key -> parsed values given to Headers._known (set with _from_to)

    @property
    def id(self) -> tuple[str, str, str]:
        """Dialog ID: (Call-ID, local tag, remote tag) (§12)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    @property
    def name(self) -> str:
        """Name used in StateChange actions: ``dialog <Call-ID>;<local tag>;<remote tag>``."""
        return self._name

    def __repr__(self) -> str:
        """Show id and state."""
        return f"<Dialog {self.id} {self.state.value}>"

    @property
    def confirmed(self) -> bool:
        """RFC 3261 'confirmed': Moratorium or Established."""
        return self.state in (DialogState.MORATORIUM, DialogState.ESTABLISHED)

    @property
    def early(self) -> bool:
        """RFC 3261 'early' dialog."""
        return self.state is DialogState.EARLY

    @property
    def alive(self) -> bool:
        """Not yet terminated (neither Mortal nor Morgue)."""
        return self.state in (DialogState.PREPARATIVE, DialogState.EARLY, DialogState.MORATORIUM,
                              DialogState.ESTABLISHED)

    def feed(self, event: DialogEvent) -> list[StateChange]:
        """Take the transition for ``event`` (ignored when the table has none)."""
        old = self.state
        new = _NEXT_STATE[old._name_].get(event._name_)
        if new is None or new is old:
            return []
        self.state = new
        if self.states:
            return [StateChange(self._name, old._value_, new._value_, self.call_id)]
        return []

    # ----------------------------------------------------------- creation

    @classmethod
    def from_uac(cls, request: "Request", response: "Response", *, states: bool = True) -> "Dialog":
        """§12.1.2: the UAC side, from our request and a 1xx/2xx carrying a To tag."""
        route_set = list(reversed(response.headers.get_all("Record-Route")))
        contacts = response.contacts
        from_, to = request.from_, response.to
        if not from_.tag:  # one error in both builds (compiled, a None local_tag was a TypeError)
            raise ValueError(f"no dialog from a request whose From has no tag (RFC 3261 §8.1.1.3): "
                             f"{request.headers.get('From')}")
        # Dialog(...), not cls(...): compiled, a direct native call instead of a keyword call of the type.
        dialog = Dialog(
            call_id=request.call_id,
            local_tag=from_.tag,
            remote_tag=to.tag,
            local_uri=from_,
            remote_uri=to,
            remote_target=contacts[0].uri if contacts else None,
            route_set=route_set,
            local_seq=request.cseq.seq,
            remote_seq=None,
            is_uac=True,
            secure=request.uri.scheme == "sips",
            states=states,
        )
        dialog._call_id_parsed = [dialog.call_id]  # read by .call_id: a valid Call-ID
        dialog._local_line = _only_line(request, "from")
        dialog._remote_line = _only_line(response, "to")
        return dialog

    @classmethod
    def from_uas(cls, request: "Request", local_tag: str, *, states: bool = True) -> "Dialog":
        """§12.1.1: the UAS side, from the request and the To tag we chose."""
        contacts = request.contacts
        from_ = request.from_
        dialog = Dialog(  # not cls(...): see from_uac
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=from_.tag or "",
            local_uri=request.to,
            remote_uri=from_,
            # An RFC 2543 INVITE may lack Contact, and must still be accepted (RFC 4475 §3.4.1);
            # RFC 2543 callees then address later requests to the From URI.
            remote_target=contacts[0].uri if contacts else from_.uri,
            route_set=list(request.headers.get_all("Record-Route")),
            local_seq=None,
            remote_seq=request.cseq.seq,
            is_uac=False,
            secure=request.uri.scheme == "sips",
            states=states,
        )
        dialog._call_id_parsed = [dialog.call_id]  # read by .call_id: a valid Call-ID
        dialog._local_line = _only_line(request, "to")
        dialog._remote_line = _only_line(request, "from")
        return dialog

    def refresh_from_2xx(self, response: "Response") -> None:
        """§13.2.2.4: a 2xx recomputes the UAC's route set and remote target."""
        if self.is_uac:
            self.route_set = list(reversed(response.headers.get_all("Record-Route")))
        contacts = response.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    def refresh_target(self, message: "Request | Response") -> None:
        """§12.2: a target refresh (re-INVITE or its 2xx) updates the remote target."""
        contacts = message.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    # ----------------------------------------------------------- requests

    def next_local_seq(self) -> int:
        """§12.2.1.1: the next CSeq number for a new request in this dialog."""
        self.local_seq = 1 if self.local_seq is None else self.local_seq + 1
        return self.local_seq

    def accept_remote_seq(self, request: "Request") -> bool:
        """§12.2.2: False (answer 500) when the CSeq is lower than the remote one.

        ACK and CANCEL carry the CSeq of the request they refer to, so they
        are not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return True
        seq = request.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq:
            return False
        if self.remote_seq is None or seq > self.remote_seq:
            self.remote_seq = seq
        return True

    def request_uri_and_routes(self) -> tuple["URI | None", list[str]]:
        """§12.2.1.1: the Request-URI and Route values for a request in this dialog.

        Loose routing (first route has ``lr``): Request-URI = remote target,
        Route = route set. Strict routing: Request-URI = first route's URI,
        Route = the rest plus the remote target. ValueError when there is no remote target.
        """
        if self.remote_target is None:
            raise _no_remote_target(self)
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0])
        if "lr" in first.uri.params:
            return self.remote_target, list(self.route_set)
        uri = first.uri
        return uri, list(self.route_set[1:]) + [f"<{self.remote_target}>"]

    def next_hop(self) -> "URI | None":
        """The URI whose host the request is sent to (first route, else the remote target)."""
        if self.route_set:
            return NameAddr.parse(self.route_set[0]).uri
        return self.remote_target

    def build_request(
        self,
        method: str,
        via: str,
        *,
        contact: str | None = None,
        cseq: int | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        via_parsed: "list[Via] | None" = None,
    ) -> "Request":
        """A request inside this dialog (§12.2.1.1); ``cseq`` defaults to the next local CSeq.

        ValueError when the dialog has no remote target: never a ``None`` Request-URI or Route.

        ``via_parsed``, when given, is ``[Via.parse(via)]`` (built by the caller from parsed parts).
        """
        routes: "list[str] | tuple[()]"
        if self.route_set:
            uri, routes = self.request_uri_and_routes()
        else:
            uri, routes = self.remote_target, ()
            if uri is None:
                raise _no_remote_target(self)
        seq = self.next_local_seq() if cseq is None else cseq
        from_to = self._from_to
        if from_to is None:
            from_text, from_parsed = tagged_name_addr(self.local_uri, self._local_line, self.local_tag)
            to_text, to_parsed = tagged_name_addr(self.remote_uri, self._remote_line, self.remote_tag)
            from_to = self._from_to = (from_text, to_text)
            # The parsed values every request of the dialog carries, parsed once here
            # (what Headers' line memo would give; one that does not parse is left for the reader).
            given = self._given = {} if self._call_id_parsed is None else {"call-id": self._call_id_parsed}
            if from_parsed is not None:
                given["from"] = [from_parsed]  # a From/To line holds one value
            if to_parsed is not None:
                given["to"] = [to_parsed]
        # The header list in one go (what one add per line builds); the caller's
        # Via with its fresh branch comes parsed (via_parsed), not through the memo.
        lines = [("via", "Via", via), ("max-forwards", "Max-Forwards", "70")]
        for route in routes:
            lines.append(("route", "Route", route))
        lines.append(("from", "From", from_to[0]))
        lines.append(("to", "To", from_to[1]))
        lines.append(("call-id", "Call-ID", self.call_id))
        lines.append(("cseq", "CSeq", f"{seq} {method}"))  # str(CSeq(seq, method))
        if contact is not None:
            lines.append(("contact", "Contact", contact))
        given = self._given if via_parsed is None else {**self._given, "via": via_parsed}
        headers = Headers._known(lines, given)
        if extra:
            for name, value in extra:
                headers.add(name, value)
        if body:
            headers.add("Content-Type", content_type or "application/sdp")
        return Request(method, uri, headers, body)


def _no_remote_target(dialog: Dialog) -> ValueError:
    """The error for a request in a dialog whose peer gave no Contact (§12.1.1, §12.1.2)."""
    # A UA core must not create such a dialog (the UAC discards the response, see
    # simsip.sip.ua.NO_CONTACT_REASON): a request built anyway would carry a None target.
    return ValueError(f"{dialog.name} has no remote target: its peer sent no Contact "
                      "(RFC 3261 §12.1.1, §12.1.2)")
