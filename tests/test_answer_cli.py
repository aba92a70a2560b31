from assistant.cli import build_parser
from assistant.cli.ask import cmd_ask
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

DOCS = {
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
}


def _run(db, settings, embedder, tmp_path, capsys, reply, argv):
    ingest_texts(db, embedder, settings, tmp_path, DOCS)
    services = Services(settings, db=db, embedder=embedder, completer=FakeCompleter([reply]))
    args = build_parser().parse_args(["ask", *argv])
    assert args.func is cmd_ask
    code = cmd_ask(args, settings, services)
    out = capsys.readouterr()
    return code, " ".join(out.out.split()), out.err


def test_ask_streams_then_lists_cited_and_uncited_sources(db, settings, fake_embedder, tmp_path, capsys):
    code, out, err = _run(db, settings, fake_embedder, tmp_path, capsys,
                          "ZooKeeper uses znodes [1]. etcd uses leases [2].",
                          ["lock", "without", "Redis", "--rerank", "none", "--context-k", "3"])
    assert code == 0
    assert "ZooKeeper uses znodes [1]. etcd uses leases [2]." in out
    cited, uncited = out.index("sources cited"), out.index("in context, not cited")
    assert cited < uncited and out.index("[3]", uncited) > uncited
    assert "first token" in out and "run #" in out
    assert "invalid citations" not in out and "no citations" not in out
    assert "recalled" in err and "sources in context" in err


def test_ask_flags_invalid_and_missing_citations(db, settings, fake_embedder, tmp_path, capsys):
    code, out, _ = _run(db, settings, fake_embedder, tmp_path, capsys, "It is [7].",
                        ["which lock?", "--rerank", "none", "--context-k", "2"])
    assert code == 0
    assert "invalid citations: [7]" in out and "only [1]–[2] exist" in out
    assert "no citations" in out  # [7] is not a source, so nothing valid is cited
    assert "sources cited" not in out
