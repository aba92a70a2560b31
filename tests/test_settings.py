from pathlib import Path

import pytest

from assistant.settings import Settings


def test_env_and_toml_layering(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('recall_k = 17\nrerank = "none"\nllm_model = "ollama/qwen2.5"\n')
    env = {"ASSISTANT_RECALL_K": "23", "DATABASE_URL": "postgresql://u@h/db", "ASSISTANT_DEMO_KB": "false"}
    s = Settings.load(env=env, config=cfg)
    assert s.recall_k == 23  # env beats the file
    assert s.rerank == "none" and s.llm_model == "ollama/qwen2.5"
    assert s.database_url == "postgresql://u@h/db"
    assert s.demo_kb is False
    with pytest.raises(Exception):
        s.recall_k = 3  # frozen


def test_unknown_toml_key_is_refused(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("recal_k = 5\n")
    with pytest.raises(ValueError, match="recal_k"):
        Settings.load(env={}, config=cfg)


def test_data_dir_from_env(tmp_path):
    s = Settings.load(env={"ASSISTANT_DATA_DIR": str(tmp_path)})
    assert s.data_dir == Path(tmp_path) and s.pgdata == Path(tmp_path) / "pgdata"


@pytest.mark.parametrize("env, names", [
    ({"ASSISTANT_RECALL_K": "abc"}, ["ASSISTANT_RECALL_K", "'abc'", "whole number"]),
    ({"ASSISTANT_RERANK": "bogus"}, ["ASSISTANT_RERANK", "'bogus'", "cross-encoder", "auto"]),
    ({"ASSISTANT_RECALL_MODE": "bogus"}, ["ASSISTANT_RECALL_MODE", "'bogus'", "vector, fts, hybrid"]),
    ({"DATABASE_URL": "notaurl"}, ["DATABASE_URL", "'notaurl'", "postgresql://"]),
    ({"ASSISTANT_DEMO_KB": "maybe"}, ["ASSISTANT_DEMO_KB", "'maybe'", "true/false"]),
    ({"ASSISTANT_CONTEXT_K": "0"}, ["ASSISTANT_CONTEXT_K", "at least 1"]),
])
def test_bad_values_name_the_setting_the_value_and_the_choices(env, names):
    from assistant.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        Settings.load(env=env)
    assert all(n in str(info.value) for n in names), str(info.value)


def test_a_password_in_a_bad_url_is_not_echoed():
    from assistant.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        Settings.load(env={"DATABASE_URL": "mysql://bob:s3cret@db/x"})
    assert "s3cret" not in str(info.value) and "bob:***@" in str(info.value)


def test_config_file_problems(tmp_path):
    from assistant.settings import SettingsError

    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(env={}, config=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("recall_k = [\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load(env={}, config=bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('rerank = "nope"\n')
    with pytest.raises(SettingsError, match=r"rerank in .*typo.toml='nope'"):
        Settings.load(env={}, config=typo)
