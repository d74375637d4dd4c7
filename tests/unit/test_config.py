"""Config: defaults, file, environment, and errors that name key, value and source."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from videolib.shared.config import ENVIRONMENT, Config, load_config
from videolib.shared.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repository_config_toml_holds_exactly_the_defaults(tmp_path: Path) -> None:
    env = {"MEDIA_LIBRARY_PATH": str(tmp_path)}
    from_file = load_config(REPO / "config.toml", env)
    assert dataclasses.replace(from_file, source="defaults") == load_config(None, env)


def test_every_setting_is_documented_in_config_toml() -> None:
    document = tomllib.loads((REPO / "config.toml").read_text())
    for section in dataclasses.fields(Config):
        if not dataclasses.is_dataclass(getattr(Config(), section.name)):
            continue  # source, secret_file: not sections of the file
        keys = {f.name for f in dataclasses.fields(getattr(Config(), section.name))}
        assert set(document[section.name]) == keys, section.name


def test_every_environment_variable_is_named_in_config_toml() -> None:
    text = (REPO / "config.toml").read_text()
    for variable in ENVIRONMENT:
        assert variable in text, variable


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[library]\nroot = "{tmp_path}"\n[api]\nport = 5000\n')
    config = load_config(
        path,
        {"MEDIA_API_PORT": "6000", "ENABLE_MEDIA_FEATURES": "false", "FFPROBE_TIMEOUT": "5000"},
    )
    assert config.api.port == 6000
    assert config.api.media_features is False
    assert config.probe_timeout_s == 5.0
    assert config.library_root == tmp_path
    assert config.inbox_path == tmp_path / "inbox"


def test_videolib_config_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[api]\nhost = "127.0.0.1"\n')
    config = load_config(None, {"VIDEOLIB_CONFIG": str(path)}, require_library=False)
    assert config.api.host == "127.0.0.1"
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("toml", "env", "fragment"),
    [
        ("[api]\nprot = 1\n", {}, "api.prot = 1: unknown key"),
        ("[apis]\nport = 1\n", {}, "apis = {'port': 1}: unknown section"),
        ('[api]\nport = "x"\n', {}, "api.port = 'x': expected a whole number"),
        ("[api]\nport = 70000\n", {}, "api.port = 70000: expected a port number"),
        ('[probe]\nbackend = "mplayer"\n', {}, "probe.backend = 'mplayer': expected one of"),
        ("", {"MEDIA_API_PORT": "eighty"}, "environment MEDIA_API_PORT: api.port = 'eighty'"),
        ("", {"ENABLE_MEDIA_FEATURES": "maybe"}, "expected true or false"),
        ("", {"DATABASE_URL": "mysql://u@h/db"}, "database.url = 'mysql://u@h/db': malformed"),
        ("", {"DATABASE_URL": "not a url"}, "malformed database URL"),
        ("", {"DATABASE_URL": "postgresql://u:secret@h:5432/"}, "no database name"),
        ("[library]\nroot = 5\n", {}, "library.root = 5: expected a path string"),
        ('[integrity]\nwindow = "1am-6am"\n', {}, "integrity.window = '1am-6am': expected"),
        ('[integrity]\nwindow = "25:00-06:00"\n', {}, "hours are 0-23"),
        ('[integrity]\nwindow = "02:00-02:00"\n', {}, "start and end are the same"),
        ("[integrity]\nrate_mb_per_second = 0\n", {}, "rate_mb_per_second = 0.0: must be greater"),
        ("[leader]\ncheck_seconds = 0\n", {}, "leader.check_seconds = 0.0: must be greater"),
        (
            "[leader]\nlease_seconds = 2\n",
            {},
            "leader.lease_seconds = 2.0: must be at least 3 x leader.check_seconds (3)",
        ),
    ],
)
def test_bad_values_name_key_value_and_source(
    tmp_path: Path, toml: str, env: dict[str, str], fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env, require_library=False)
    assert fragment in caught.value.message
    assert "secret" not in caught.value.message  # passwords are never echoed


def test_missing_library_root_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"MEDIA_LIBRARY_PATH": str(missing)})
    assert caught.value.message == (
        f"environment MEDIA_LIBRARY_PATH: library.root = '{missing}': no such directory"
    )


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", {})


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[api\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path, {})


def test_database_url_becomes_asyncpg(tmp_path: Path) -> None:
    config = load_config(
        None, {"DATABASE_URL": "postgresql://u:p@db:5432/v2", "MEDIA_LIBRARY_PATH": str(tmp_path)}
    )
    url = config.sqlalchemy_url()
    assert (url.drivername, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "db",
        5432,
        "v2",
    )
    assert not config.embedded_database
