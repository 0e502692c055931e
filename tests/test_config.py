import base64
from pathlib import Path

import pytest

from qb_mcp.config import OAuthEndpoints, Settings
from qb_mcp.errors import ConfigError


def key(n: int = 1) -> str:
    return base64.urlsafe_b64encode(bytes([n]) * 32).decode()


def test_defaults_are_production_with_intuit_hosts() -> None:
    settings = Settings.from_env({})
    assert settings.environment == "production"
    assert settings.resolved_api_base_url == "https://quickbooks.api.intuit.com"
    assert settings.oauth_endpoints == OAuthEndpoints.intuit("production")
    assert settings.read_only is False


def test_sandbox_uses_sandbox_api_host() -> None:
    settings = Settings.from_env({"QBO_ENVIRONMENT": "sandbox"})
    assert settings.resolved_api_base_url == "https://sandbox-quickbooks.api.intuit.com"


def test_overrides_point_api_and_oauth_at_another_host() -> None:
    settings = Settings.from_env(
        {
            "QBO_API_BASE_URL": "http://127.0.0.1:8765/",
            "QBO_OAUTH_BASE_URL": "http://127.0.0.1:8765",
        }
    )
    assert settings.resolved_api_base_url == "http://127.0.0.1:8765"
    assert settings.oauth_endpoints is not None
    assert settings.oauth_endpoints.token == "http://127.0.0.1:8765/oauth2/v1/tokens/bearer"


def test_token_keys_are_decoded_newest_first() -> None:
    settings = Settings.from_env({"QBO_TOKEN_KEYS": f"{key(2)}, {key(1)}"})
    assert settings.token_keys == (bytes([2]) * 32, bytes([1]) * 32)


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "QBO_CLIENT_SECRET": "s3cret-value",
            "QBO_TOKEN_KEYS": key(),
            "QBO_WEBHOOK_VERIFIER_TOKEN": "vt-123",
        }
    )
    text = repr(settings)
    assert "s3cret-value" not in text and "vt-123" not in text and key() not in text


def test_flags_override_environment() -> None:
    settings = Settings.from_env({"QBO_READ_ONLY": "false"}).with_overrides(read_only=True)
    assert settings.read_only is True
    assert Settings.from_env({"QBO_READ_ONLY": "yes"}).with_overrides(read_only=None).read_only


def test_home_expands_user(tmp_path: Path) -> None:
    assert Settings.from_env({"QBO_HOME": str(tmp_path)}).database_path.parent == tmp_path


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"QBO_ENVIRONMENT": "staging"}, "QBO_ENVIRONMENT"),
        ({"QBO_READ_ONLY": "maybe"}, "QBO_READ_ONLY"),
        ({"QBO_TOKEN_KEYS": "not base64!"}, "QBO_TOKEN_KEYS"),
        ({"QBO_TOKEN_KEYS": base64.urlsafe_b64encode(b"short").decode()}, "QBO_TOKEN_KEYS"),
        ({"QBO_API_BASE_URL": "ftp://x"}, "QBO_API_BASE_URL"),
        ({"QBO_OAUTH_BASE_URL": "localhost:8765"}, "QBO_OAUTH_BASE_URL"),
        ({"QBO_REDIRECT_URI": "/callback"}, "QBO_REDIRECT_URI"),
        ({"QBO_REALM_ID": "abc"}, "QBO_REALM_ID"),
        ({"QBO_LOG_LEVEL": "chatty"}, "QBO_LOG_LEVEL"),
    ],
)
def test_bad_setting_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env(env)
    message = str(excinfo.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_debug_logging_keeps_sql_parameters_out() -> None:
    import logging

    from qb_mcp.config import configure_logging

    configure_logging("DEBUG")
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.WARNING


def test_confirm_writes_is_off_unless_enabled() -> None:
    assert Settings.from_env({}).confirm_writes is False
    assert Settings.from_env({"QBO_CONFIRM_WRITES": "true"}).confirm_writes is True
    assert Settings.from_env({"QBO_CONFIRM_WRITES": "0"}).confirm_writes is False


def test_bad_confirm_writes_names_the_variable() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({"QBO_CONFIRM_WRITES": "sometimes"})
    message = str(excinfo.value)
    assert message.startswith("QBO_CONFIRM_WRITES") and "\n" not in message


def test_serve_confirm_writes_flag_overrides_environment() -> None:
    from qb_mcp.cli import build_parser

    flagged = build_parser().parse_args(["serve", "--confirm-writes"])
    plain = build_parser().parse_args(["serve"])
    env = Settings.from_env({"QBO_CONFIRM_WRITES": "false"})
    assert env.with_overrides(confirm_writes=flagged.confirm_writes).confirm_writes is True
    assert env.with_overrides(confirm_writes=plain.confirm_writes).confirm_writes is False


def test_allowed_hosts_are_host_names_with_optional_ports() -> None:
    settings = Settings.from_env({"QBO_ALLOWED_HOSTS": "MCP.example.com, mcp.example.com:8443,"})
    assert settings.allowed_hosts == ("mcp.example.com", "mcp.example.com:8443")


@pytest.mark.parametrize("value", ["*", "https://mcp.example.com", "mcp.example.com/mcp", "a b"])
def test_an_allowed_host_that_is_not_a_host_name_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^QBO_ALLOWED_HOSTS: "):
        Settings.from_env({"QBO_ALLOWED_HOSTS": value})


def test_issuer_and_audience_go_together() -> None:
    both = Settings.from_env(
        {"QBO_AUTH_ISSUER": "https://id.example.com", "QBO_AUTH_AUDIENCE": "https://m.example/mcp"}
    )
    assert both.auth_issuer == "https://id.example.com"
    with pytest.raises(ConfigError, match=r"^QBO_AUTH_AUDIENCE must be set too"):
        Settings.from_env({"QBO_AUTH_ISSUER": "https://id.example.com"})
    with pytest.raises(ConfigError, match=r"^QBO_AUTH_ISSUER must be"):
        Settings.from_env({"QBO_AUTH_ISSUER": "id.example.com", "QBO_AUTH_AUDIENCE": "x"})
