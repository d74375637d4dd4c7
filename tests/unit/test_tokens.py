"""Admin tokens: issue, verify, and every way a token can be bad."""

from __future__ import annotations

import time

import jwt
import pytest

from videolib.shared.tokens import TokenError, TokenVerifier, issue_token, parse_ttl, verify_token

SECRET = "s" * 40


def test_round_trip() -> None:
    claims = verify_token(issue_token(SECRET, ttl_s=60), SECRET)
    assert claims.role == "SUPER_ADMIN"
    assert claims.expires_at - time.time() == pytest.approx(60, abs=2)


@pytest.mark.parametrize(
    "token",
    [
        issue_token(SECRET, ttl_s=60, now=time.time() - 3600),  # expired
        issue_token("another secret that is long enough", ttl_s=60),  # wrongly signed
        jwt.encode({"role": "SUPER_ADMIN", "exp": int(time.time()) + 60}, None, algorithm="none"),
        jwt.encode({"role": "SUPER_ADMIN"}, SECRET, algorithm="HS256"),  # no exp
        jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256"),  # no role
        "not.a.token",
        "",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        verify_token(token, SECRET)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800)]
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "0h", "1w", "-1h", "h"])
def test_parse_ttl_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_ttl(text)


def test_verifier_trusts_a_verified_token_until_it_expires() -> None:
    verifier = TokenVerifier(SECRET)
    token = issue_token(SECRET, ttl_s=1)
    assert verifier.verify(token).role == "SUPER_ADMIN"
    assert verifier.verify(token) is verifier.verify(token)  # from memory
    time.sleep(max(0.0, verifier.verify(token).expires_at - time.time()) + 0.05)
    with pytest.raises(TokenError, match="expired"):  # remembered, yet refused once past exp
        verifier.verify(token)


def test_verifier_checks_bad_tokens_every_time_and_forgets_the_oldest() -> None:
    verifier = TokenVerifier(SECRET, size=2)
    forged = issue_token("another secret that is long enough", ttl_s=60)
    for _ in range(2):
        with pytest.raises(TokenError):
            verifier.verify(forged)
    tokens = [issue_token(SECRET, ttl_s=60, subject=f"user-{i}") for i in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert [verifier.verify(token).subject for token in tokens[1:]] == ["user-1", "user-2"]
    assert len(verifier._verified) == 2
