"""TimerConfig (RFC 3261 Table 4, RFC 6026 §8.11): every timer derived from T1, T2, T4."""

from __future__ import annotations

import pytest

from simsip.sip.timers import TimerConfig


@pytest.mark.parametrize("t1", [0.5, 0.1, 2.0])
def test_64_t1_timers_rfc3261_table_4(t1: float) -> None:
    """RFC 3261 Table 4 / RFC 6026 §8.11: B, F, H, L, M, and J over UDP are 64*T1."""
    timers = TimerConfig(t1=t1)
    for value in (timers.timer_b, timers.timer_f, timers.timer_h, timers.timer_l, timers.timer_m,
                  timers.timer_j(False), timers.ack_wait_2xx, timers.prack_wait, timers.cancel_wait):
        assert value == pytest.approx(64 * t1)


@pytest.mark.parametrize("t1", [0.5, 0.1, 2.0])
def test_ack_relay_wait_inside_the_2xx_window_rfc3261_13_3_1_4(t1: float) -> None:
    """RFC 3261 §13.3.1.4 / RFC 3665 §3.5: a B2BUA's held ACK goes after 32*T1, half the UAS's 64*T1."""
    timers = TimerConfig(t1=t1)
    assert timers.ack_relay_wait == pytest.approx(32 * t1)
    assert timers.ack_wait_2xx - timers.ack_relay_wait == pytest.approx(32 * t1)


def test_reliable_transport_zeroes_d_i_j_k_rfc3261_17() -> None:
    """RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2: D, I, J, K are 0 and A, E, G unset over TCP."""
    timers = TimerConfig()
    assert (timers.timer_d(True), timers.timer_i(True), timers.timer_j(True), timers.timer_k(True)) == (0, 0, 0, 0)
    assert (timers.timer_a(True), timers.timer_e(True), timers.timer_g(True)) == (None, None, None)


def test_udp_values_rfc3261_table_4() -> None:
    """RFC 3261 Table 4: D >= 32 s, I = K = T4, A = E = G = T1 over UDP."""
    timers = TimerConfig(t1=0.1, t2=4.0, t4=5.0)
    assert timers.timer_d(False) == 32.0  # absolute minimum, not derived from T1
    assert TimerConfig(t1=1.0).timer_d(False) == 64.0
    assert timers.timer_i(False) == timers.timer_k(False) == 5.0
    assert timers.timer_a(False) == timers.timer_e(False) == timers.timer_g(False) == 0.1


def test_backoff_rules_rfc3261_and_rfc3262() -> None:
    """A doubles uncapped (§17.1.1.2); E, G and 2xx cap at T2 (§17.1.2.2, §17.2.1, §13.3.1.4);
    E is T2 in Proceeding; reliable 1xx doubles uncapped (RFC 3262 §3)."""
    timers = TimerConfig()
    assert timers.next_timer_a(8.0) == 16.0
    assert timers.next_timer_e(2.0, proceeding=False) == 4.0 and timers.next_timer_e(4.0, False) == 4.0
    assert timers.next_timer_e(0.5, proceeding=True) == 4.0
    assert timers.next_timer_g(4.0) == 4.0 and timers.next_2xx_retransmit(4.0) == 4.0
    assert timers.next_reliable_1xx_retransmit(8.0) == 16.0
    assert timers.trying_delay == 0.2


def test_non_positive_base_timer_rejected() -> None:
    """T1, T2, T4 must be positive."""
    with pytest.raises(ValueError):
        TimerConfig(t1=0)


@pytest.mark.parametrize("t1,t2,t4", [(0.5, 4.0, 5.0), (0.1, 4.0, 5.0), (2.0, 8.0, 1.0)])
@pytest.mark.parametrize("reliable", [False, True])
def test_transaction_timers_are_the_methods_values_rfc3261_17(t1: float, t2: float, t4: float,
                                                              reliable: bool) -> None:
    """RFC 3261 §17 / RFC 6026: ``transaction[reliable]`` holds exactly what the timer methods give."""
    timers = TimerConfig(t1=t1, t2=t2, t4=t4)
    t = timers.transaction[reliable]
    assert (t.a, t.e, t.g) == (timers.timer_a(reliable), timers.timer_e(reliable), timers.timer_g(reliable))
    assert (t.d, t.i, t.j, t.k) == (timers.timer_d(reliable), timers.timer_i(reliable),
                                    timers.timer_j(reliable), timers.timer_k(reliable))
    assert (t.b, t.f, t.h, t.l, t.m) == (timers.timer_b, timers.timer_f, timers.timer_h, timers.timer_l,
                                         timers.timer_m)
    assert t.trying == timers.trying_delay


def test_transaction_timers_leave_equality_alone() -> None:
    """The worked-out §17 timers are no field of the configuration: equal T1/T2/T4 give equal, same-hash configs."""
    assert TimerConfig(t1=0.1) == TimerConfig(t1=0.1) and hash(TimerConfig(t1=0.1)) == hash(TimerConfig(t1=0.1))
    assert "transaction" not in repr(TimerConfig())
