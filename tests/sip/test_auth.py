"""HTTP Digest for SIP: RFC 2617 §3.2.2 vectors, RFC 3261 §22 challenge/answer/verify."""

from __future__ import annotations

import random

import pytest

from simsip.sip.auth import (
    AuthError,
    DigestAuthenticator,
    authorization_header,
    challenge_headers,
    credentials_header_name,
    digest_response,
    parse_challenge,
    parse_credentials,
)

# RFC 2617 §3.5, the worked example (qop=auth, MD5).
RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc2617_section_3_5_example_response() -> None:
    """RFC 2617 §3.5: Mufasa / Circle Of Life gives response 6629fae4...4ef1."""
    assert digest_response(
        "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093", nc="00000001", cnonce="0a4f113b", qop="auth",
    ) == "6629fae49393a05397450978507c4ef1"


def test_rfc2069_compatible_digest_without_qop() -> None:
    """RFC 2617 §3.2.2.1: without qop the digest is KD(H(A1), nonce:H(A2))."""
    import hashlib

    def h(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = h("bob:biloxi.example.com:zanzibar")
    ha2 = h("REGISTER:sips:ss2.biloxi.example.com")
    assert digest_response(
        "bob", "biloxi.example.com", "zanzibar", "REGISTER", "sips:ss2.biloxi.example.com", "abc"
    ) == h(f"{ha1}:abc:{ha2}")


class _FixedCnonce(random.Random):
    """An RNG whose getrandbits(32) yields the RFC 2617 §3.5 cnonce 0a4f113b."""

    def getrandbits(self, k: int) -> int:  # noqa: D401 - test double
        """Return the example cnonce."""
        assert k == 32
        return 0x0A4F113B


def test_authorization_header_reproduces_rfc2617_example() -> None:
    """RFC 2617 §3.5 / RFC 3261 §22.4: the UAC answer carries the example's exact fields."""
    value = authorization_header(
        RFC2617_CHALLENGE, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", _FixedCnonce()
    )
    assert value == (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
        'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001'
    )
    creds = parse_credentials(value)
    assert (creds.username, creds.nc, creds.qop, creds.cnonce) == ("Mufasa", "00000001", "auth", "0a4f113b")


def test_parse_challenge_fields_and_quoted_commas() -> None:
    """RFC 3261 §25.1 challenge: quoted-string values may hold commas and escapes."""
    c = parse_challenge('Digest realm="a, \\"b\\"", nonce="n1", algorithm=MD5, qop="auth", stale=TRUE')
    assert (c.scheme, c.realm, c.nonce, c.algorithm, c.qop, c.stale) == (
        "Digest", 'a, "b"', "n1", "MD5", ("auth",), True
    )
    assert c.is_digest


def test_unknown_scheme_credentials_parse_without_error() -> None:
    """RFC 4475 §3.3.7 regaut01: an unknown Authorization scheme must not break parsing."""
    creds = parse_credentials("NoOneKnowsThisScheme opaque-data=here")
    assert creds.scheme == "NoOneKnowsThisScheme" and not creds.is_digest


def test_cannot_answer_non_digest_or_auth_int_only() -> None:
    """RFC 3261 §22.4: only Digest; we implement qop=auth, not auth-int."""
    with pytest.raises(AuthError):
        authorization_header('Basic realm="x"', "INVITE", "sip:a@b", "u", "p", random.Random(1))
    with pytest.raises(AuthError):
        authorization_header('Digest realm="x", nonce="n", qop="auth-int"', "INVITE", "sip:a@b", "u", "p",
                             random.Random(1))


def test_authenticator_round_trip_and_wrong_password() -> None:
    """RFC 3261 §22.1: a challenge answered with the right password verifies; a wrong one does not."""
    server = DigestAuthenticator("biloxi.example.com", {"bob": "zanzibar"}, random.Random(7))
    challenge = server.challenge()
    parsed = parse_challenge(challenge)
    assert parsed.realm == "biloxi.example.com" and parsed.qop == ("auth",)
    assert parsed.nonce == f"{random.Random(7).getrandbits(128):032x}"
    good = authorization_header(challenge, "REGISTER", "sips:ss2.biloxi.example.com", "bob", "zanzibar",
                                random.Random(3))
    bad = authorization_header(challenge, "REGISTER", "sips:ss2.biloxi.example.com", "bob", "wrong",
                               random.Random(3))
    assert server.verify(parse_credentials(good), "REGISTER")
    assert server.check(parse_credentials(bad), "REGISTER") == "bad"
    # The method is part of A2: the same credentials do not authorise an INVITE.
    assert not server.verify(parse_credentials(good), "INVITE")


def test_authenticator_nonce_not_issued_is_stale() -> None:
    """RFC 2617 §3.2.1 stale: right password on a nonce we never issued -> stale, not bad."""
    server = DigestAuthenticator("atlanta.example.com", {"alice": "pw"}, random.Random(1))
    foreign = 'Digest realm="atlanta.example.com", nonce="deadbeef", qop="auth"'
    value = authorization_header(foreign, "INVITE", "sip:bob@biloxi.example.com", "alice", "pw", random.Random(2))
    assert server.check(parse_credentials(value), "INVITE") == "stale"
    assert parse_challenge(server.challenge(stale=True)).stale


def test_find_credentials_picks_our_realm() -> None:
    """RFC 3261 §22.3: a proxy looks for the Proxy-Authorization with its own realm."""
    server = DigestAuthenticator("atlanta.example.com", {"alice": "pw"}, random.Random(1))
    other = 'Digest username="alice", realm="biloxi.example.com", nonce="x", uri="sip:b", response="0"'
    ours = authorization_header(server.challenge(), "INVITE", "sip:b", "alice", "pw", random.Random(2))
    assert server.find_credentials([other, "Foo bar=baz", ours]) == parse_credentials(ours)
    assert server.find_credentials([other]) is None


def test_header_names_by_role() -> None:
    """RFC 3261 §22.2 (401/WWW-Authenticate/Authorization) vs §22.3 (407/Proxy-*)."""
    assert challenge_headers(proxy=False) == (401, "WWW-Authenticate", "Authorization")
    assert challenge_headers(proxy=True) == (407, "Proxy-Authenticate", "Proxy-Authorization")
    assert credentials_header_name("www-authenticate") == "Authorization"
    assert credentials_header_name("Proxy-Authenticate") == "Proxy-Authorization"
