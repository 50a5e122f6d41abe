"""RFC 3261 §25 grammar rules as regular expressions, each beside its ABNF.

Like h11's ``_abnf.py``: every regex quotes the rule it is built from, so a
reader can check one against the other. The parser works on header values
after unfolding (RFC 3261 §7.3.1: a line starting with SP or HTAB continues
the previous one and the fold is equivalent to one SP), so LWS and SWS below
are plain ``[ \\t]`` runs.

Also home of :class:`SipParseError`, the only exception the parser raises.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["SipParseError"]


class SipParseError(ValueError):
    """A SIP message, header or URI does not follow RFC 3261 §25.

    ``line`` is the 1-based line of the message where the error was found
    (None when a header or URI was parsed on its own) and ``expected`` names
    what the grammar wanted there.
    """

    def __init__(self, message: str, line: int | None = None, expected: str | None = None) -> None:
        """Record the problem, where it was found and what was expected."""
        super().__init__(message, line, expected)
        self.message = message
        self.line = line
        self.expected = expected

    def __str__(self) -> str:
        """Render as ``line N: message (expected X)``."""
        text = self.message if self.line is None else f"line {self.line}: {self.message}"
        return text if self.expected is None else f"{text} (expected {self.expected})"


def bounded_int(digits: str, maximum: int, what: str) -> int:
    """Convert ``1*DIGIT`` text no larger than ``maximum``; never converts a huge string.

    (Python refuses int() of more than 4300 digits, and a hostile Content-Length
    must end in SipParseError, not ValueError.)
    """
    if len(digits) < 10 and maximum >= 999_999_999:
        return int(digits)
    stripped = digits.lstrip("0") or "0"
    if len(stripped) > len(str(maximum)) or int(stripped) > maximum:
        raise SipParseError(f"{what} {digits[:30]}{'...' if len(digits) > 30 else ''} larger than {maximum}",
                            expected=f"{what} <= {maximum}")
    return int(stripped)


# ---------------------------------------------------------------- basic rules

#   LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
#   SWS  =  [LWS] ; sep whitespace
# (after unfolding, CRLF is gone)
SWS = r"[ \t]*"
LWS = r"[ \t]+"

#   alphanum  =  ALPHA / DIGIT
#   token       =  1*(alphanum / "-" / "." / "!" / "%" / "*"
#                  / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(TOKEN)

#   word        =  1*(alphanum / "-" / "." / "!" / "%" / "*" /
#                  "_" / "+" / "`" / "'" / "~" /
#                  "(" / ")" / "<" / ">" /
#                  ":" / "\" / DQUOTE /
#                  "/" / "[" / "]" / "?" /
#                  "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"

#   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
#   qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E
#                     / UTF8-NONASCII
#   quoted-pair  =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
# UTF8-NONASCII is any decoded non-ASCII character (including the surrogate
# escapes that stand for undecodable octets, so bytes round-trip).
QUOTED_STRING = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"'
QUOTED_STRING_RE = re.compile(QUOTED_STRING)
QUOTED_PAIR_RE = re.compile(r"\\([\x00-\x09\x0b\x0c\x0e-\x7f])")

#   escaped     =  "%" HEXDIG HEXDIG
ESCAPED = r"%[0-9A-Fa-f]{2}"

#   mark        =  "-" / "_" / "." / "!" / "~" / "*" / "'"
#                  / "(" / ")"
#   unreserved  =  alphanum / mark
UNRESERVED_CHARS = "A-Za-z0-9\\-_.!~*'()"
UNRESERVED_SET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()")

# ---------------------------------------------------------------- hosts

#   hostname         =  *( domainlabel "." ) toplabel [ "." ]
#   domainlabel      =  alphanum
#                       / alphanum *( alphanum / "-" ) alphanum
#   toplabel         =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
# Leniency: "_" is accepted in labels and a top label may start with a digit,
# because simsip node names become host names and the scenario language allows
# names such as "edge_1" (real stacks accept "_" too; DNS SRV owners carry it).
HOSTNAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?)*\.?"

#   IPv4address    =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4ADDRESS = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"

#   IPv6reference  =  "[" IPv6address "]"
#   IPv6address    =  hexpart [ ":" IPv4address ]
#   hexpart        =  hexseq / hexseq "::" [ hexseq ] / "::" [ hexseq ]
#   hexseq         =  hex4 *( ":" hex4)
#   hex4           =  1*4HEXDIG
# The regex admits the character set; ipaddress.IPv6Address checks the form.
IPV6REFERENCE = r"\[[0-9A-Fa-f:.]+\]"

#   host             =  hostname / IPv4address / IPv6reference
HOST = f"(?:{IPV4ADDRESS}|{HOSTNAME}|{IPV6REFERENCE})"
HOST_RE = re.compile(HOST)

#   hostport         =  host [ ":" port ]
#   port             =  1*DIGIT
HOSTPORT_RE = re.compile(f"({HOST})(?::([0-9]+))?")

# ---------------------------------------------------------------- SIP-URI

#   SIP-URI          =  "sip:" [ userinfo ] hostport
#                       uri-parameters [ headers ]
#   SIPS-URI         =  "sips:" [ userinfo ] hostport
#                       uri-parameters [ headers ]
#   userinfo         =  ( user / telephone-subscriber ) [ ":" password ] "@"
#   user             =  1*( unreserved / escaped / user-unreserved )
#   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_SAFE: Final = "&=+$,;?/"
USER_RE = re.compile(f"(?:[{UNRESERVED_CHARS}&=+$,;?/]|{ESCAPED})+")

#   password         =  *( unreserved / escaped /
#                       "&" / "=" / "+" / "$" / "," )
PASSWORD_SAFE: Final = "&=+$,"
PASSWORD_RE = re.compile(f"(?:[{UNRESERVED_CHARS}&=+$,]|{ESCAPED})*")

#   uri-parameters    =  *( ";" uri-parameter)
#   uri-parameter     =  transport-param / user-param / method-param
#                        / ttl-param / maddr-param / lr-param / other-param
#   other-param       =  pname [ "=" pvalue ]
#   pname             =  1*paramchar
#   pvalue            =  1*paramchar
#   paramchar         =  param-unreserved / unreserved / escaped
#   param-unreserved  =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAM_SAFE: Final = "[]/:&+$"
PARAMCHARS_RE = re.compile(f"(?:[{UNRESERVED_CHARS}\\[\\]/:&+$]|{ESCAPED})+")

#   headers         =  "?" header *( "&" header )
#   header          =  hname "=" hvalue
#   hname           =  1*( hnv-unreserved / unreserved / escaped )
#   hvalue          =  *( hnv-unreserved / unreserved / escaped )
#   hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
HNV_SAFE: Final = "[]/?:+$"
HNAME_RE = re.compile(f"(?:[{UNRESERVED_CHARS}\\[\\]/?:+$]|{ESCAPED})+")
HVALUE_RE = re.compile(f"(?:[{UNRESERVED_CHARS}\\[\\]/?:+$]|{ESCAPED})*")

# ---------------------------------------------------------------- other URIs

#   absoluteURI    =  scheme ":" ( hier-part / opaque-part )
#   scheme         =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
#   hier-part      =  ( net-path / abs-path ) [ "?" query ]
#   opaque-part    =  uric-no-slash *uric
#   uric           =  reserved / unreserved / escaped
#   reserved    =  ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+"
#                  / "$" / ","
# (both alternatives are runs of uric; the first character is never empty)
OPAQUE_RE = re.compile(f"(?:[{UNRESERVED_CHARS};/?:@&=+$,\\[\\]]|{ESCAPED})+")

# RFC 3966 §3:
#   telephone-uri        = "tel:" telephone-subscriber
#   telephone-subscriber = global-number / local-number
#   global-number-digits = "+" *phonedigit DIGIT *phonedigit
#   local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#")
#                          *phonedigit-hex
#   phonedigit           = DIGIT / [ visual-separator ]
#   phonedigit-hex       = HEXDIG / "*" / "#" / [ visual-separator ]
#   visual-separator     = "-" / "." / "(" / ")"
TEL_NUMBER_RE = re.compile(
    r"\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*"
)
#   parameter            = ";" pname ["=" pvalue ]
#   pname                = 1*( alphanum / "-" )
#   pvalue               = 1*paramchar
TEL_PNAME_RE = re.compile(r"[A-Za-z0-9\-]+")

# ---------------------------------------------------------------- header parts

#   generic-param  =  token [ EQUAL gen-value ]
#   gen-value      =  token / host / quoted-string
#   SEMI    =  SWS ";" SWS ; semicolon
#   EQUAL   =  SWS "=" SWS ; equal
# (a host that is not a token is an IPv6reference)
#   via-received      =  "received" EQUAL (IPv4address / IPv6address)
# (the one place a bare IPv6address, which is not a token, is a value)
BARE_IPV6 = r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*"
GENERIC_PARAM_RE = re.compile(
    f"{SWS};{SWS}({TOKEN})(?:{SWS}={SWS}({BARE_IPV6}|{TOKEN}|{IPV6REFERENCE}|{QUOTED_STRING}))?{SWS}"
)

#   name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
#   display-name   =  *(token LWS)/ quoted-string
#   LAQUOT  =  SWS "<"; left angle quote
#   RAQUOT  =  ">" SWS ; right angle quote
# RFC 4475 §3.1.1.6 asks parsers to accept a token display name with no LWS
# before "<", so the LWS after the last token is optional here.
DISPLAY_TOKENS_RE = re.compile(f"{TOKEN}(?:{LWS}{TOKEN})*")

#   via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
#   sent-protocol     =  protocol-name SLASH protocol-version
#                        SLASH transport
#   protocol-name     =  "SIP" / token
#   protocol-version  =  token
#   transport         =  "UDP" / "TCP" / "TLS" / "SCTP"
#                        / other-transport
#   sent-by           =  host [ COLON port ]
#   SLASH   =  SWS "/" SWS ; slash
#   COLON   =  SWS ":" SWS ; colon
VIA_PARM_RE = re.compile(
    f"{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){LWS}({HOST})(?:{SWS}:{SWS}([0-9]+))?"
)

#   CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
#   Method            =  INVITEm / ACKm / OPTIONSm / BYEm
#                        / CANCELm / REGISTERm
#                        / extension-method
#   extension-method  =  token
CSEQ_RE = re.compile(f"([0-9]+){LWS}({TOKEN})")

#   RAck          =  "RAck" HCOLON response-num LWS CSeq-num LWS Method
#   response-num  =  1*DIGIT
#   CSeq-num      =  1*DIGIT          (RFC 3262 §7.2)
RACK_RE = re.compile(f"([0-9]+){LWS}([0-9]+){LWS}({TOKEN})")

#   RSeq          =  "RSeq" HCOLON response-num    (RFC 3262 §7.1)
#   Max-Forwards  =  "Max-Forwards" HCOLON 1*DIGIT
#   Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
#   Expires     =  "Expires" HCOLON delta-seconds
#   delta-seconds      =  1*DIGIT
DIGITS_RE = re.compile(r"[0-9]+")

#   Call-ID  =  ( "Call-ID" / "i" ) HCOLON callid
#   callid   =  word [ "@" word ]
CALLID_RE = re.compile(f"{WORD}(?:@{WORD})?")

#   Content-Type     =  ( "Content-Type" / "c" ) HCOLON media-type
#   media-type       =  m-type SLASH m-subtype *(SEMI m-parameter)
#   m-type           =  discrete-type / composite-type
#   m-subtype        =  extension-token / iana-token
#   m-parameter      =  m-attribute EQUAL m-value
#   m-value          =  token / quoted-string
# (every m-type and m-subtype alternative is a token)
MEDIA_TYPE_RE = re.compile(f"({TOKEN}){SWS}/{SWS}({TOKEN})")

#   Date          =  "Date" HCOLON SIP-date
#   SIP-date      =  rfc1123-date
#   rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
#   date1         =  2DIGIT SP month SP 4DIGIT
#   time          =  2DIGIT ":" 2DIGIT ":" 2DIGIT
#   wkday  =  "Mon" / "Tue" / "Wed" / "Thu" / "Fri" / "Sat" / "Sun"
#   month  =  "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun"
#             / "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
RFC1123_DATE_RE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)

# ---------------------------------------------------------------- start lines

#   Request-Line   =  Method SP Request-URI SP SIP-Version CRLF
#   SIP-Version    =  "SIP" "/" 1*DIGIT "." 1*DIGIT
SIP_VERSION_RE = re.compile(r"[Ss][Ii][Pp]/[0-9]+\.[0-9]+")
METHOD_RE = TOKEN_RE

#   Status-Line     =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
#   Status-Code     =  Informational / Redirection / Success
#                      / Client-Error / Server-Error / Global-Failure
#                      / extension-code
#   extension-code  =  3DIGIT
STATUS_CODE_RE = re.compile(r"[1-6][0-9]{2}")
#   Reason-Phrase   =  *(reserved / unreserved / escaped
#                      / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
# i.e. no control characters other than HTAB.
REASON_PHRASE_RE = re.compile(r"[\t\x20-\x7e\x80-\U0010ffff]*")

#   message-header  =  (Accept / ... / extension-header) CRLF
#   extension-header  =  header-name HCOLON header-value
#   header-name       =  token
#   header-value      =  *(TEXT-UTF8char / UTF8-CONT / LWS)
#   HCOLON  =  *( SP / HTAB ) ":" SWS
HEADER_NAME_RE = TOKEN_RE
