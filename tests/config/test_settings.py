"""Settings: defaults, environment, YAML file, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("ALPR_") and not key.startswith(("ALPR_STACK", "ALPR_HOME")):
            monkeypatch.delenv(key)


def test_defaults_point_at_the_local_stack() -> None:
    settings = load_settings()
    assert settings.kafka.broker == "kafka://127.0.0.1:19092"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.web.port == 6066
    assert settings.retention.alert_days >= settings.retention.reads_days


def test_environment_overrides_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_KAFKA__BROKER", "kafka://k1:9092;kafka://k2:9092")
    monkeypatch.setenv("ALPR_WEB__PORT", "8080")
    monkeypatch.setenv("ALPR_S3__SECRET_KEY", "s3cr3t")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.web.port == 8080
    assert settings.s3.secret_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings)


def test_yaml_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alpr.yaml"
    path.write_text("retention:\n  reads_days: 7\n  alert_days: 90\nweb:\n  port: 7000\n")
    monkeypatch.setenv("ALPR_CONFIG", str(path))
    monkeypatch.setenv("ALPR_WEB__PORT", "7001")
    settings = load_settings()
    assert (settings.retention.reads_days, settings.retention.alert_days) == (7, 90)
    assert settings.web.port == 7001


def test_bad_value_names_the_field_and_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_SMTP__SECURITY", "ssl3")
    monkeypatch.setenv("ALPR_WEB__PORT", "70000")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "smtp.security [ALPR_SMTP__SECURITY]" in message
    assert "'none', 'starttls' or 'tls'" in message
    assert "web.port [ALPR_WEB__PORT]" in message
    assert "less than or equal to 65535" in message


def test_unknown_field_in_yaml_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "alpr.yaml"
    path.write_text("kafka:\n  brokers: kafka://x:1\n")
    monkeypatch.setenv("ALPR_CONFIG", str(path))
    with pytest.raises(SettingsError, match=r"kafka\.brokers .*Extra inputs are not permitted"):
        load_settings()


def test_cross_field_rule_on_retention() -> None:
    with pytest.raises(SettingsError, match="alert_days \\(3\\) must be at least reads_days"):
        load_settings(retention={"reads_days": 10, "alert_days": 3})


def test_unreadable_or_non_mapping_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPR_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings()
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    monkeypatch.setenv("ALPR_CONFIG", str(listing))
    with pytest.raises(SettingsError, match="must hold a mapping"):
        load_settings()


def test_bad_settings_stop_the_cli_with_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    env = {"ALPR_WEB__PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "import alpr"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 2
    assert "web.port [ALPR_WEB__PORT]" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_stage_section_is_set_from_the_environment_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alpr.yaml"
    path.write_text(
        "rules:\n  lateness_s: 60\nnotify:\n  attempts: 3\nprojections:\n  enable_es: false\n"
        "router:\n  cameras:\n    cam-1: {site_id: s1, name: North gate}\n"
    )
    monkeypatch.setenv("ALPR_CONFIG", str(path))
    monkeypatch.setenv("ALPR_TOPICS__RAW", "alpr.plates.raw.test-1")
    monkeypatch.setenv("ALPR_NOTIFY__ATTEMPTS", "4")
    settings = load_settings()
    assert settings.topics.raw == "alpr.plates.raw.test-1"
    assert settings.rules.lateness_s == 60
    assert settings.notify.attempts == 4
    assert settings.projections.enable_es is False
    assert settings.router.cameras["cam-1"].name == "North gate"


def test_a_bad_stage_setting_names_the_field_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPR_NOTIFY__ATTEMPTS", "0")
    monkeypatch.setenv("ALPR_TOPICS__DLQ", "no spaces")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "notify.attempts [ALPR_NOTIFY__ATTEMPTS]" in str(err.value)
    assert "topics.dlq [ALPR_TOPICS__DLQ]" in str(err.value)


def test_a_variable_named_as_before_the_tree_is_an_error_naming_the_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPR_RULES_TOPIC", "alpr.rules.old")
    monkeypatch.setenv("ALPR_WEB__PORT", "70000")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "rules.topic [ALPR_RULES_TOPIC]: not read; set ALPR_RULES__TOPIC instead" in message
    assert "web.port [ALPR_WEB__PORT]" in message


def test_producers_wait_for_every_replica_and_are_idempotent_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings().kafka.producer_options() == {"acks": "all", "enable_idempotence": True}
    monkeypatch.setenv("ALPR_KAFKA__PRODUCER_IDEMPOTENCE", "false")
    monkeypatch.setenv("ALPR_KAFKA__PRODUCER_ACKS", "1")
    assert load_settings().kafka.producer_options() == {"acks": 1, "enable_idempotence": False}
    monkeypatch.delenv("ALPR_KAFKA__PRODUCER_ACKS")
    monkeypatch.delenv("ALPR_KAFKA__PRODUCER_IDEMPOTENCE")
    config = tmp_path / "alpr.yaml"
    config.write_text("kafka:\n  producer_acks: 0\n")  # a number in YAML
    monkeypatch.setenv("ALPR_CONFIG", str(config))
    with pytest.raises(SettingsError, match="producer_idempotence needs producer_acks=all"):
        load_settings()
    config.write_text("kafka:\n  producer_acks: 0\n  producer_idempotence: false\n")
    assert load_settings().kafka.producer_options()["acks"] == 0


def test_a_worker_id_names_each_consumer_a_static_member(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().kafka.group_instance_id("router") is None  # dynamic by default
    monkeypatch.setenv("ALPR_KAFKA__WORKER_ID", "site-a.core-1")
    assert load_settings().kafka.group_instance_id("router") == "site-a.core-1-router"
    monkeypatch.setenv("ALPR_KAFKA__WORKER_ID", "core 1")
    with pytest.raises(SettingsError, match="worker_id"):
        load_settings()
