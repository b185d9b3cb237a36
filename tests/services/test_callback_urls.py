"""The callback URL check at acceptance is remembered by the URL before its query: that part alone decides it,
but for a control character, looked for in the whole URL."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from martinet.services.callback_urls import CallbackUrlCheck, _problem

#: Pieces that move the boundaries urlsplit finds (scheme, authority, port, brackets), or that it removes.
_TRICKY = st.sampled_from(["/", "?", "#", "@", ":", "[", "]", "%", "\t", "\n", " ", "\\", ".", "0x7f", "::1", "é"])
_PIECE = st.one_of(_TRICKY, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=8))
_SCHEME = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:", "", " http://", "\thttps://"])
_HOST = st.sampled_from(
    ["example.com", "127.0.0.1", "127.1", "10.0.0.8", "[fd00::1]", "[::1", "localhost", "a.localhost", ""]
)
_REST = st.lists(_PIECE, max_size=12).map("".join)


@given(scheme=_SCHEME, host=_HOST, port=st.sampled_from(["", ":80", ":99999", ":x", ":"]), rest=_REST)
@example(scheme="http://", host="user:pa", port="", rest="?ss@127.0.0.1/")  # a `?` ends the authority
@example(scheme="http://", host="example.com", port="", rest="\t?x#y@10.0.0.1")
@example(scheme="http://", host="example.com", port="", rest="?\t")  # a control character after the `?`
def test_the_query_and_fragment_never_change_the_answer(scheme: str, host: str, port: str, rest: str) -> None:
    url = scheme + host + port + rest
    for allow_private in (False, True):
        check = CallbackUrlCheck(allow_private_networks=allow_private)
        assert check.problem(url) == _problem.__wrapped__(url, allow_private)


def test_urls_differing_by_their_query_share_one_check() -> None:
    check = CallbackUrlCheck(allow_private_networks=False)
    _problem.cache_clear()
    for reference in range(50):
        assert check.problem(f"https://client.example/sms/report?ref={reference}#top") is None
    assert check.problem("http://127.0.0.1/report?ref=1") is not None
    assert _problem.cache_info().misses == 2
    injected = "https://client.example/sms/report?ref=1\r\nX-Injected: 1"
    assert check.problem(injected) == "a URL cannot hold control characters (line breaks, tabs)"
    assert _problem.cache_info().misses == 2
