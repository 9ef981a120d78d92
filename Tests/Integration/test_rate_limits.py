"""Rate limits: per token subject and tier of route (MCP, REST read, REST write), per client
address before authentication, 429 problem JSON with Retry-After and X-RateLimit-*, and
X-Forwarded-For believed only from TRUSTED_PROXIES, so a spoofed header dodges nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import mcp_helpers as h


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def assert_limited(resp: httpx.Response, limit: int) -> None:
    problem = h.assert_problem(resp, 429)
    assert f"{limit} requests per minute" in problem["detail"]
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert resp.headers["x-ratelimit-limit"] == str(limit)
    assert resp.headers["x-ratelimit-remaining"] == "0"


def test_limits_per_subject_and_tier(tmp_path: Path) -> None:
    env = {"RATE_LIMIT_READ_PER_MINUTE": "5", "RATE_LIMIT_MCP_PER_MINUTE": "3", "RATE_LIMIT_WRITE_PER_MINUTE": "2"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env=env))
    try:
        url = f"{gateway.base_url}/tools"
        for remaining in [4, 3, 2, 1, 0]:
            resp = httpx.get(url, headers=bearer(gateway.token), timeout=10)
            assert resp.status_code == 200
            assert resp.headers["x-ratelimit-limit"] == "5"
            assert resp.headers["x-ratelimit-remaining"] == str(remaining)
        assert_limited(httpx.get(url, headers=bearer(gateway.token), timeout=10), 5)
        # Another subject has its own budget; probes are never limited.
        other = h.mint_token(gateway, "other@example.com", admin=False)
        assert httpx.get(url, headers=bearer(other), timeout=10).status_code == 200
        assert httpx.get(f"{gateway.base_url}/health", timeout=10).status_code == 200
        # Writes and MCP are separate tiers.
        for index in range(2):
            resp = httpx.post(f"{gateway.base_url}/servers", headers=bearer(gateway.token), json={"name": f"s{index}"})
            assert resp.status_code == 201, resp.text
        before = httpx.get(f"{gateway.base_url}/servers", headers=bearer(other), timeout=10).json()
        assert_limited(httpx.post(f"{gateway.base_url}/servers", headers=bearer(gateway.token), json={"name": "s9"}), 2)
        assert httpx.get(f"{gateway.base_url}/servers", headers=bearer(other), timeout=10).json() == before
        def post_mcp() -> httpx.Response:
            return httpx.post(gateway.mcp_url, headers=bearer(gateway.token, Accept=h.ACCEPT_BOTH), json=h.request("ping"))

        for _ in range(3):
            assert post_mcp().status_code != 429
        assert_limited(post_mcp(), 3)
    finally:
        gateway.stop()


def test_limit_per_address_applies_before_authentication_and_ignores_spoofed_headers(tmp_path: Path) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env={"RATE_LIMIT_IP_PER_MINUTE": "4"}))
    try:
        url = f"{gateway.base_url}/tools"
        statuses = [httpx.get(url, headers=bearer("bad", **{"X-Forwarded-For": f"198.51.100.{i}"}), timeout=10).status_code
                    for i in range(4)]
        assert statuses == [401] * 4
        assert_limited(httpx.get(url, headers={"X-Forwarded-For": "198.51.100.200"}, timeout=10), 4)
        assert_limited(httpx.get(url, headers=bearer(gateway.token), timeout=10), 4)
    finally:
        gateway.stop()


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    env = {"RATE_LIMIT_IP_PER_MINUTE": "2", "TRUSTED_PROXIES": "127.0.0.1/32"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env=env))
    try:
        url = f"{gateway.base_url}/tools"

        def get(forwarded: str) -> int:
            return httpx.get(url, headers=bearer(gateway.token, **{"X-Forwarded-For": forwarded}), timeout=10).status_code

        assert [get("203.0.113.7"), get("203.0.113.7")] == [200, 200]
        assert get("203.0.113.7") == 429
        assert get("203.0.113.8") == 200  # another client behind the same proxy
        # A client cannot prepend its way out: the proxy's own entry (right-most) counts.
        assert get("192.0.2.1, 203.0.113.7") == 429
    finally:
        gateway.stop()


def test_contextforge_name_for_the_switch_is_honoured_and_wins_over_the_alias(tmp_path: Path) -> None:
    """RATE_LIMITING_ENABLED is ContextForge's name (RATE_LIMIT_ENABLED is ours, kept as an alias)."""
    for index, switch in enumerate([{"RATE_LIMITING_ENABLED": "false", "RATE_LIMIT_ENABLED": "true"},
                                    {"RATE_LIMIT_ENABLED": "false"}]):
        env = {**switch, "RATE_LIMIT_READ_PER_MINUTE": "2"}
        gateway = h.or_fail(lambda: h.start_gateway(tmp_path / str(index), extra_env=env))
        try:
            statuses = {httpx.get(f"{gateway.base_url}/tools", headers=bearer(gateway.token), timeout=10).status_code
                        for _ in range(5)}
            assert statuses == {200}, (switch, statuses)
        finally:
            gateway.stop()
    with pytest.raises(RuntimeError, match="RATE_LIMITING_ENABLED"):
        h.start_gateway(tmp_path / "bad", extra_env={"RATE_LIMITING_ENABLED": "sometimes"})


def test_ipv6_clients_are_counted_per_slash_64(tmp_path: Path) -> None:
    """An IPv6 subscriber holds a /64 and can rotate through it: per-address limits count the /64."""
    env = {"RATE_LIMIT_IP_PER_MINUTE": "3", "TRUSTED_PROXIES": "127.0.0.1/32"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env=env))
    try:
        def get(client: str) -> httpx.Response:
            return httpx.get(f"{gateway.base_url}/tools", headers=bearer(gateway.token, **{"X-Forwarded-For": client}),
                             timeout=10)

        for client in ["2001:db8:7:8::1", "2001:db8:7:8::2", "2001:db8:7:8:3:4:5:6"]:
            assert get(client).status_code == 200
        assert_limited(get("2001:db8:7:8:ffff:ffff:ffff:ffff"), 3)
        assert get("2001:db8:7:9::1").status_code == 200, "the next /64 has its own budget"
    finally:
        gateway.stop()
