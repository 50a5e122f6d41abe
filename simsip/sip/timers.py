"""RFC 3261 transaction timers (Table 4, Appendix A) and RFC 6026 Timers L and M.

Every timer value in simsip is derived here from T1, T2 and T4; nowhere else
writes a timer duration as a literal. Times are seconds (floats).

| timer | value                      | section                  |
|-------|----------------------------|--------------------------|
| A     | T1, doubling, no cap (UDP) | RFC 3261 §17.1.1.2       |
| B     | 64*T1                      | RFC 3261 §17.1.1.2       |
| C     | > 3 min (proxy, per branch)| RFC 3261 §16.6 item 11   |
| D     | >= 32 s UDP, 0 reliable    | RFC 3261 §17.1.1.2       |
| E     | T1, doubling, cap T2 (UDP) | RFC 3261 §17.1.2.2       |
| F     | 64*T1                      | RFC 3261 §17.1.2.2       |
| G     | T1, doubling, cap T2 (UDP) | RFC 3261 §17.2.1         |
| H     | 64*T1                      | RFC 3261 §17.2.1         |
| I     | T4 UDP, 0 reliable         | RFC 3261 §17.2.1         |
| J     | 64*T1 UDP, 0 reliable      | RFC 3261 §17.2.2         |
| K     | T4 UDP, 0 reliable         | RFC 3261 §17.1.2.2       |
| L     | 64*T1                      | RFC 6026 §8.7            |
| M     | 64*T1                      | RFC 6026 §8.4            |

Besides the lettered timers: the 200 ms 100-Trying delay of an INVITE server
(RFC 3261 §17.2.1) and the 100-Trying delay of a non-INVITE server, the time
a client's Timer E takes to be reset to T2 (RFC 4320 §4.1; 3.5 s with the
default T1 and T2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# RFC 3261 §17.1.1.1 / §17.1.2.2 defaults.
DEFAULT_T1 = 0.5
DEFAULT_T2 = 4.0
DEFAULT_T4 = 5.0
# RFC 3261 §16.6 item 11: Timer C "MUST be set to be larger than 3 minutes".
DEFAULT_TIMER_C = 180.0 + 1.0
# RFC 3261 §17.1.1.2: Timer D is an absolute minimum of 32 s for unreliable transports.
TIMER_D_MIN_UNRELIABLE = 32.0
# RFC 3261 §17.2.1: 100 Trying unless the TU answers within 200 ms.
TRYING_DELAY = 0.2


@dataclass(frozen=True, slots=True)
class TransactionTimers:
    """The first value of every §17 transaction timer over one kind of transport.

    Worked out once per :class:`TimerConfig` (see ``TimerConfig.transaction``)
    from its methods, so a transaction reads a plain attribute per timer it
    arms instead of calling a method. None: the timer is not started
    (A, E, G over a reliable transport).
    """

    a: float | None
    b: float
    d: float
    m: float
    e: float | None
    f: float
    k: float
    g: float | None
    h: float
    i: float
    l: float  # noqa: E741 -- the RFC's letter
    j: float
    trying: float
    nit_trying: float


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1, T2 and T4 of one SIP element, and every timer derived from them."""

    t1: float = DEFAULT_T1
    t2: float = DEFAULT_T2
    t4: float = DEFAULT_T4
    timer_c: float = DEFAULT_TIMER_C
    transaction: tuple[TransactionTimers, TransactionTimers] = field(
        init=False, repr=False, compare=False, hash=False)
    """``transaction[reliable]``: the §17 timers over UDP (index False) and a reliable transport (True)."""

    def __post_init__(self) -> None:
        """Reject non-positive base timers (RFC 3261 §17.1.1.1 needs T1 > 0); work out the §17 timers."""
        if self.t1 <= 0 or self.t2 <= 0 or self.t4 <= 0:
            raise ValueError("T1, T2 and T4 must be positive")
        object.__setattr__(self, "transaction", (self._transaction_timers(False), self._transaction_timers(True)))

    def _transaction_timers(self, reliable: bool) -> TransactionTimers:
        """The first value of each §17 timer over a reliable or an unreliable transport."""
        return TransactionTimers(
            a=self.timer_a(reliable), b=self.timer_b, d=self.timer_d(reliable), m=self.timer_m,
            e=self.timer_e(reliable), f=self.timer_f, k=self.timer_k(reliable),
            g=self.timer_g(reliable), h=self.timer_h, i=self.timer_i(reliable), l=self.timer_l,
            j=self.timer_j(reliable), trying=self.trying_delay, nit_trying=self.non_invite_trying_delay,
        )

    # --- INVITE client transaction (RFC 3261 §17.1.1.2, RFC 6026 §8.4) ---
    def timer_a(self, reliable: bool) -> float | None:
        """Initial INVITE retransmit interval; None over a reliable transport."""
        return None if reliable else self.t1

    def next_timer_a(self, interval: float) -> float:
        """Timer A doubles on every firing with no ceiling."""
        return 2.0 * interval

    @property
    def timer_b(self) -> float:
        """INVITE client transaction timeout, 64*T1."""
        return 64.0 * self.t1

    def timer_d(self, reliable: bool) -> float:
        """Wait in Completed for response retransmissions: >= 32 s UDP, 0 reliable."""
        return 0.0 if reliable else max(TIMER_D_MIN_UNRELIABLE, 64.0 * self.t1)

    @property
    def timer_m(self) -> float:
        """RFC 6026: INVITE client lingers in Accepted for 64*T1."""
        return 64.0 * self.t1

    # --- non-INVITE client transaction (RFC 3261 §17.1.2.2) ---
    def timer_e(self, reliable: bool) -> float | None:
        """Initial non-INVITE retransmit interval; None over a reliable transport."""
        return None if reliable else self.t1

    def next_timer_e(self, interval: float, proceeding: bool) -> float:
        """Timer E doubles capped at T2 in Trying, and is T2 in Proceeding."""
        return self.t2 if proceeding else min(2.0 * interval, self.t2)

    @property
    def timer_f(self) -> float:
        """Non-INVITE client transaction timeout, 64*T1."""
        return 64.0 * self.t1

    def timer_k(self, reliable: bool) -> float:
        """Non-INVITE client waits in Completed: T4 over UDP, 0 reliable."""
        return 0.0 if reliable else self.t4

    # --- INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.7) ---
    def timer_g(self, reliable: bool) -> float | None:
        """Initial final-response retransmit interval; None over a reliable transport."""
        return None if reliable else self.t1

    def next_timer_g(self, interval: float) -> float:
        """Timer G doubles capped at T2."""
        return min(2.0 * interval, self.t2)

    @property
    def timer_h(self) -> float:
        """Wait for the ACK of a 3xx-6xx, 64*T1, all transports."""
        return 64.0 * self.t1

    def timer_i(self, reliable: bool) -> float:
        """Absorb ACK retransmissions in Confirmed: T4 over UDP, 0 reliable."""
        return 0.0 if reliable else self.t4

    @property
    def timer_l(self) -> float:
        """RFC 6026: INVITE server lingers in Accepted for 64*T1."""
        return 64.0 * self.t1

    # --- non-INVITE server transaction (RFC 3261 §17.2.2) ---
    def timer_j(self, reliable: bool) -> float:
        """Answer request retransmissions in Completed: 64*T1 UDP, 0 reliable."""
        return 0.0 if reliable else 64.0 * self.t1

    @property
    def non_invite_trying_delay(self) -> float:
        """RFC 4320 §4.1: a non-INVITE unanswered this long gets 100 Trying: when a client's Timer E is reset to T2."""
        # Timer E fires after T1, 2*T1, ... (each interval min(2*E, T2)); "reset to T2" is the firing
        # after which the interval is T2. The same on every transport: §4.1 says "without regard to transport".
        elapsed, interval = 0.0, self.t1
        while True:
            elapsed += interval
            interval = min(2.0 * interval, self.t2)
            if interval >= self.t2:
                return elapsed

    # --- UA core (RFC 3261 §13.3.1.4) and RFC 3262 §3 ---
    def first_2xx_retransmit(self) -> float:
        """The UAS core first retransmits a 2xx after T1, on any transport."""
        return self.t1

    def next_2xx_retransmit(self, interval: float) -> float:
        """2xx retransmission interval doubles capped at T2 (§13.3.1.4)."""
        return min(2.0 * interval, self.t2)

    @property
    def ack_wait_2xx(self) -> float:
        """UAS core gives up waiting for the ACK of a 2xx after 64*T1."""
        return 64.0 * self.t1

    @property
    def ack_relay_wait(self) -> float:
        """A B2BUA holds a 2xx's ACK for its peer leg's ACK at most 32*T1 (half the UAS's 64*T1 window)."""
        return 32.0 * self.t1

    def first_reliable_1xx_retransmit(self) -> float:
        """RFC 3262 §3: a reliable provisional is first retransmitted after T1."""
        return self.t1

    def next_reliable_1xx_retransmit(self, interval: float) -> float:
        """RFC 3262 §3: the interval doubles with no T2 ceiling."""
        return 2.0 * interval

    @property
    def prack_wait(self) -> float:
        """RFC 3262 §3: without a PRACK after 64*T1 the UAS rejects with a 5xx."""
        return 64.0 * self.t1

    @property
    def trying_delay(self) -> float:
        """RFC 3261 §17.2.1: send 100 Trying if the TU has not answered in 200 ms."""
        return TRYING_DELAY

    @property
    def cancel_wait(self) -> float:
        """RFC 3261 §9.1: a cancelled INVITE with no final in 64*T1 is destroyed."""
        return 64.0 * self.t1
