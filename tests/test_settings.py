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
