import pytest

from assistant.prompts import PromptError, load_prompt


def test_prompt_placeholders_are_checked(tmp_path):
    (tmp_path / "p.md").write_text("Q: {question}\nSources:\n{sources}\nJSON: {{\"a\": 1}}")
    p = load_prompt("p.md", {"question", "sources"}, tmp_path)
    assert p.render(question="q", sources="s").endswith('JSON: {"a": 1}')
    assert len(p.sha256) == 64
    with pytest.raises(PromptError, match="missing"):
        load_prompt("p.md", {"question", "sources", "language"}, tmp_path)
    with pytest.raises(PromptError, match="unknown"):
        load_prompt("p.md", {"question"}, tmp_path)
    with pytest.raises(PromptError):
        p.render(question="q")
    with pytest.raises(PromptError, match="not found"):
        load_prompt("nope.md", set(), tmp_path)
