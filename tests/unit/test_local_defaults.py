"""One local state: the rule deciding what a command without DATABASE_URL works on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from videolib.shared.config import (
    LOCAL_ORIGIN,
    SERVER_API_HOST,
    SERVER_LIBRARY_ROOT,
    LocalDefaults,
    load_config,
    local_defaults,
)
from videolib.shared.errors import ConfigError
from videolib.shared.tokens import signing_secret, state_secret

URL = "postgresql://u:p@db:5432/v"
VAR = Path("var")


@pytest.mark.parametrize(
    ("configured", "run", "expected"),
    [
        pytest.param(
            {},
            False,
            LocalDefaults(VAR / "library", "127.0.0.1", VAR / "jwt_secret"),
            id="nothing set: the state directory's setup",
        ),
        pytest.param(
            {("state", "dir"): "/srv/s"},
            False,
            LocalDefaults(Path("/srv/s/library"), "127.0.0.1", Path("/srv/s/jwt_secret")),
            id="another state directory",
        ),
        pytest.param({("database", "url"): URL}, False, LocalDefaults(), id="a server: none"),
        pytest.param(
            {("database", "url"): "  "},
            False,
            LocalDefaults(VAR / "library", "127.0.0.1", VAR / "jwt_secret"),
            id="an empty URL is unset",
        ),
        pytest.param(
            {("database", "url"): URL},
            True,
            LocalDefaults(VAR / "library", "127.0.0.1", VAR / "jwt_secret"),
            id="run is always local",
        ),
        pytest.param(
            {("library", "root"): "/media/x", ("api", "host"): "0.0.0.0"},
            False,
            LocalDefaults(None, None, VAR / "jwt_secret"),
            id="what the file or environment sets wins",
        ),
        pytest.param(
            {("api", "jwt_secret"): "s" * 40},
            True,
            LocalDefaults(VAR / "library", "127.0.0.1", None),
            id="a configured secret: no secret file",
        ),
    ],
)
def test_local_defaults(
    configured: dict[tuple[str, str], Any], run: bool, expected: object
) -> None:
    assert local_defaults(configured, run=run) == expected


def test_without_database_url_every_command_gets_the_run_setup(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = load_config(None, {"VIDEOLIB_STATE_DIR": str(state)}, require_library=False)
    assert config.library_root == state / "library"
    assert config.api.host == "127.0.0.1"
    assert config.secret_file == state / "jwt_secret"
    # `run` decides the same, so that a second terminal meets the same state.
    run_config = load_config(
        None, {"VIDEOLIB_STATE_DIR": str(state)}, require_library=False, run=True
    )
    assert config == run_config


def test_with_database_url_the_server_defaults_stay(tmp_path: Path) -> None:
    config = load_config(None, {"DATABASE_URL": URL}, require_library=False)
    assert config.library_root == SERVER_LIBRARY_ROOT
    assert config.api.host == SERVER_API_HOST
    assert config.secret_file is None
    assert signing_secret(config) == ""  # `videolib api` and `token` name api.jwt_secret


def test_empty_values_in_the_file_mean_the_mode_default(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[library]\nroot = ""\n[api]\nhost = ""\njwt_secret = ""\n')
    config = load_config(path, {"VIDEOLIB_STATE_DIR": str(tmp_path)}, require_library=False)
    assert (config.library_root, config.api.host) == (tmp_path / "library", "127.0.0.1")
    assert config.secret_file == tmp_path / "jwt_secret"


def test_a_missing_local_library_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"VIDEOLIB_STATE_DIR": str(tmp_path)})
    assert caught.value.message.startswith(f"{LOCAL_ORIGIN}: library.root = '{tmp_path}/library'")
    assert "`videolib run` makes it" in caught.value.message


def test_the_secret_file_is_made_once_and_private(tmp_path: Path) -> None:
    config = load_config(None, {"VIDEOLIB_STATE_DIR": str(tmp_path)}, require_library=False)
    assert signing_secret(config, create=False) == ""
    assert not (tmp_path / "jwt_secret").exists()  # reading (doctor) makes nothing
    first = signing_secret(config)
    assert len(first) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    assert signing_secret(config) == first == signing_secret(config, create=False)
    assert state_secret(tmp_path / "jwt_secret") == first
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]  # no temporary left


def test_a_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    config = load_config(
        None, {"VIDEOLIB_STATE_DIR": str(tmp_path), "JWT_SECRET": "k" * 40}, require_library=False
    )
    assert signing_secret(config) == "k" * 40
    assert not (tmp_path / "jwt_secret").exists()


def test_an_unreadable_secret_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").mkdir()  # not a file: reading fails even as root
    config = load_config(None, {"VIDEOLIB_STATE_DIR": str(tmp_path)}, require_library=False)
    with pytest.raises(ConfigError) as caught:
        signing_secret(config)
    assert caught.value.message == (
        f"{LOCAL_ORIGIN}: api.jwt_secret = '{tmp_path}/jwt_secret': cannot read or make the"
        " secret file: Is a directory"
    )
