"""`docchat`: the same objects as the web app, from a terminal (ingest, list, delete, search, ...)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import unicodedata
from pathlib import Path

from common.user_error import UserError, describe
from llm.backends import BACKENDS

from .settings import get_settings

log = logging.getLogger("docchat")


def _plain(text) -> str:
    """Text for a terminal: control characters (an escape sequence in a file name could
    retitle or clear the terminal) are shown as \\xNN / \\uNNNN instead of acting."""
    return "".join(ch if unicodedata.category(ch)[0] != "C"
                   else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                   for ch in str(text))


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _acting_user(args):
    """With accounts on: the user named by --user (or DOCCHAT_USER), whose knowledge-base
    permissions and conversations apply; None: the machine's operator, who can read DOCCHAT_HOME
    anyway. Accounts off: always None."""
    settings = get_settings()
    name = getattr(args, "user", None) or settings.user
    if not name:
        return None
    if not settings.accounts:
        print("注意：账户功能未开启（DOCCHAT_ACCOUNTS=1），--user 不起作用。" if settings.lang == "zh" else
              "Note: accounts are off (DOCCHAT_ACCOUNTS=1), so --user changes nothing.", file=sys.stderr)
        return None
    from .factory import account_store
    user = account_store(settings).get_user(name)
    if user is None:
        from .accounts import AccountStore
        raise AccountStore.unknown(name)
    return user


def _app(args):
    """The one app object of this command, built on first use (``serve`` and ``users`` never
    load the knowledge-base machinery)."""
    if getattr(args, "app", None) is None:
        from .app import DocChat
        args.app = DocChat.from_settings(get_settings())
    return args.app


def _kb(args, read_only: bool = False):
    """``read_only`` for commands that only read: they never repair (re-embed) anything, only
    say that a repair is pending, which the next writer (ingest, the page) does. With --user,
    a knowledge base that user may not read (or, to write, change) is never opened."""
    from .factory import kb_access
    user = _acting_user(args)
    if user is not None:
        access = kb_access()
        name = args.kb or get_settings().kb
        access.check_read(user, name) if read_only else access.check_change(user, name)
    kb = _app(args).kb(args.kb, read_only=read_only)
    if read_only and kb.pending_repair:
        lang = get_settings().lang
        print("一次导入曾被中断；下次导入（docchat ingest 或网页上传）时会自动修复，在此之前的结果可能不完整。"
              if lang == "zh" else
              "An import was interrupted earlier; the next ingest (docchat ingest or an upload on "
              "the page) repairs it. Until then results may be incomplete.", file=sys.stderr)
    return kb


def _progress_printer(enabled: bool):
    if not enabled:
        return None

    def report(name: str, stage: str, fraction: float) -> None:
        print(f"\r  {_plain(name)[:50]:<50} {stage:<10} {fraction:>4.0%}", end="", file=sys.stderr, flush=True)
        if stage == "done":
            print(file=sys.stderr)
    return report


def _result_line(res, lang: str) -> str:
    pages = "-" if res.pages is None else str(res.pages)
    return _plain(f"{res.status:<10} {res.chunks:>6} {pages:>5}  {res.file}  {res.describe(lang)}")


def cmd_ingest(args) -> int:
    settings = get_settings()
    missing = [p for p in args.paths if not Path(p).exists()]
    for p in missing:
        print(_plain(f"not found: {p}"), file=sys.stderr)
    kb = _kb(args)
    paths = [Path(p) for p in args.paths if Path(p).exists()]
    results = kb.sync(paths[0], progress=_progress_printer(args.progress), faq=args.faq) if args.sync else \
        kb.ingest(paths, progress=_progress_printer(args.progress), faq=args.faq)
    if args.json:
        _print_json([r.to_json() for r in results])
    else:
        print(f"{'status':<10} {'chunks':>6} {'pages':>5}  file")
        for res in results:
            print(_result_line(res, settings.lang))
        counts = {}
        for res in results:
            counts[res.status] = counts.get(res.status, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        print(f"{len(results)} files: {summary}" if results else "no files")
    return 2 if missing or any(r.status == "error" for r in results) else 0


def cmd_list(args) -> int:
    kb = _kb(args, read_only=True)
    files = kb.files()
    if args.json:
        _print_json([{"file": f.name, "sha256": f.sha256, "format": f.format, "pages": f.pages,
                      "chunks": f.chunks, "size": f.size, "added_at": f.added_at, "path": f.path}
                     for f in files])
    else:
        print(f"{'chunks':>6} {'pages':>5} {'size':>10}  file")
        for f in files:
            print(f"{f.chunks:>6} {'-' if f.pages is None else f.pages:>5} {f.size:>10}  {_plain(f.name)}")
        print(f"{len(files)} files, {sum(f.chunks for f in files)} chunks in '{_plain(kb.name)}'")
    return 0


def cmd_delete(args) -> int:
    kb = _kb(args)
    removed = kb.delete(args.name)
    if not removed:
        print(_plain(f"no document named '{args.name}' in '{kb.name}'"), file=sys.stderr)
        return 1
    lang = get_settings().lang
    for res in removed:
        print(_plain(f"deleted {res.file} ({res.chunks} chunks)"
                     + (f": {res.warning_zh if lang == 'zh' else res.warning}" if res.warning else "")))
    return 0


def cmd_search(args) -> int:
    from vectorstore.retrievers import DEFAULT_MIN_SCORE, HybridRetriever
    # The same retriever as chat: hybrid fusion, the relevance floor, optional expansion.
    retriever = HybridRetriever(kb=_kb(args, read_only=True), k=args.k, mode=args.mode, sources=args.source or None,
                                expand=args.expand, min_score=None if args.no_floor else DEFAULT_MIN_SCORE)
    hits = retriever.retrieve_hits(args.query)
    if args.json:
        _print_json([h.to_json() for h in hits])
    else:
        for i, h in enumerate(hits, 1):
            page = f" p.{h.page}" if h.page else ""
            print(_plain(f"[{i}] {h.source}{page}  score={h.score:.4f}  {h.chunk_id}"))
            print("    " + _plain(h.text.replace("\n", " ")[:300]))
    return 0


def cmd_check(args) -> int:
    """Chroma rows = keyword rows = catalog chunks? Exit 1 when not (vectorstore/consistency.py)."""
    from vectorstore.consistency import check
    report = check(_kb(args, read_only=True))
    if args.json:
        _print_json(report.to_json())
    else:
        print(_plain(report.describe(get_settings().lang)))
    return 0 if report.ok else 1


def cmd_reindex(args) -> int:
    settings = get_settings()
    for res in _kb(args).reindex(progress=_progress_printer(args.progress)):
        print(_result_line(res, settings.lang))
    return 0


def cmd_db(args) -> int:
    """migrate --to URL: this home's SQLite stores into PostgreSQL (docchat/db_migrate.py);
    upgrade: the database of DOCCHAT_DATABASE_URL (or --to) to the current schema. An unusable
    address or an unreachable server is a UserError, said by main()."""
    from vectorstore.database import Database

    from .db_migrate import migrate_home
    settings = get_settings()
    zh = settings.lang == "zh"
    url = args.to or (settings.database_url if args.action == "upgrade" else None)
    if not url:
        print("需要 --to postgresql+pg8000://用户:密码@主机:5432/库名" if zh else
              "Name the database: --to postgresql+pg8000://user:password@host:5432/dbname", file=sys.stderr)
        return 2
    if args.action == "migrate":
        print(_plain(migrate_home(settings.home, url).describe(settings.lang)))
        print("下一步：将 DOCCHAT_DATABASE_URL 设为该地址。" if zh else "Next: set DOCCHAT_DATABASE_URL to that address.")
    else:
        database = Database(url)
        database.upgrade()
        print(f"数据库结构版本：{database.revision()}" if zh else f"The database is at revision {database.revision()}.")
    return 0


def cmd_kbs(args) -> int:
    from vectorstore import list_knowledge_bases

    from .factory import database, kb_access
    settings = get_settings()
    user = _acting_user(args)
    if args.action == "list":
        names = list_knowledge_bases(settings.home, database(settings))
        for name in kb_access().readable(user, names) if user is not None else names:
            print(_plain(name))
        return 0
    if user is not None and not user.is_admin:
        from .accounts import AccountError
        raise AccountError("只有管理员可以创建或删除知识库。", "Only administrators may create or delete knowledge bases.")
    if args.action == "create":
        _app(args).kb(args.name).close()
        print(f"created '{args.name}'")
    elif args.action == "delete":
        if not _app(args).delete_kb(args.name):
            print(f"no knowledge base named '{args.name}'", file=sys.stderr)
            return 1
        if settings.accounts:
            kb_access().forget(args.name)  # a new one of that name starts with the default rule
        print(f"deleted '{args.name}'")
    return 0


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def cmd_serve(args) -> int:
    """The one way to start the web page: the configured address and port, whatever the
    working directory (streamlit alone reads .streamlit/config.toml from the current folder,
    and started elsewhere it listens on every interface)."""
    settings = get_settings()
    address = args.address or settings.server_address
    port = args.port or settings.server_port
    root = Path(__file__).resolve().parents[1]
    app = root / "ui" / "app.py"
    has_password = (settings.accounts or bool(settings.ui_password)
                    or (root / ".streamlit" / "secrets.toml").is_file())
    if address not in LOOPBACK and not has_password:
        print(f"注意：网页将在 {address}:{port} 上对局域网开放，且没有设置密码（DOCCHAT_UI_PASSWORD）："
              f"能访问这台电脑的任何人都可以查看、上传和删除文档。"
              if settings.lang == "zh" else
              f"Warning: the page will be open to the network on {address}:{port} without a password "
              f"(DOCCHAT_UI_PASSWORD): anyone who can reach this computer can read, upload and "
              f"delete documents.", file=sys.stderr)
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.address", address, "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    os.chdir(root)  # the project's .streamlit/config.toml (upload limit, toolbar) applies too
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return 0  # not reached


def _llm(args):
    return _app(args).llm(args.llm or None)


def _reranker(args):
    return _app(args).reranker


def cmd_ask(args) -> int:
    history = _read_history(args.history) if args.history else None
    llm = _llm(args)
    if args.plain:
        # A plain question straight to the model, no documents: checks a backend works.
        text = "".join(_echo(piece, not args.json) for piece in llm.stream(args.question))
        if args.json:
            _print_json({"answer": text.strip(), "sources": [], "refused": False, "timings": {}})
        else:
            print()
        return 0
    from chains.chat_session import ChatSession
    from chains.grounded_answer import Answer
    # The same path as the web page: history -> standalone question -> retrieve -> answer.
    session = ChatSession(_kb(args, read_only=True), llm, k=args.k, history=history, reranker=_reranker(args))
    answer = Answer(args.question)
    for piece in session.stream(args.question, answer):
        _echo(piece, not args.json)
    if args.json:
        _print_json(answer.to_json())
    else:
        print()
        _print_sources(answer)
    return 0


def cmd_summarize(args) -> int:
    """Map-reduce summary of one document (chains/summarize.py); unknown names -> exit 1."""
    from chains.summarize import Summarizer
    summarizer = Summarizer(_kb(args, read_only=True), _llm(args))
    pieces = summarizer.stream(args.name, args.lang)
    text = "".join(_echo(piece, not args.json) for piece in pieces)
    if args.json:
        _print_json({"summary": text.strip(), "file": args.name})
    else:
        print()
    return 0


class HistoryFileError(UserError, ValueError):
    """The --history file cannot be used: HistoryFileError(en, zh)."""


def _read_history(path: str) -> list[tuple[str, str]]:
    """--history FILE: a JSON list of {"question", "answer"} turns, oldest first."""
    def fail(zh: str, en: str):
        raise HistoryFileError(f"The history file {path} {en}", f"历史文件 {path} {zh}")
    try:
        turns = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail("不存在。", "does not exist.")
    except (OSError, UnicodeDecodeError) as err:
        fail(f"无法读取（{err}）。", f"cannot be read ({err}).")
    except json.JSONDecodeError as err:
        fail(f"不是有效的 JSON（第 {err.lineno} 行）。", f"is not valid JSON (line {err.lineno}).")
    if not isinstance(turns, list) or not all(
            isinstance(t, dict) and isinstance(t.get("question"), str) and isinstance(t.get("answer", ""), str)
            for t in turns):
        fail('应为 [{"question": "...", "answer": "..."}, ...] 形式的列表。',
             'must be a JSON list of {"question": "...", "answer": "..."} objects.')
    return [(t["question"], t.get("answer", "")) for t in turns]


def _echo(piece: str, enabled: bool) -> str:
    if enabled:
        print(piece, end="", flush=True)
    return piece


def _print_sources(answer) -> None:
    for n, hit in enumerate(answer.sources, 1):
        page = f", p. {hit.page}" if hit.page else ""
        ocr = " (OCR)" if getattr(hit, "ocr", False) else ""
        print(_plain(f"  [{n}] {hit.source}{page}{ocr}: {hit.text.replace(chr(10), ' ')[:120]}"))


def cmd_chat(args) -> int:
    from chains.chat_session import ChatSession
    from chains.grounded_answer import Answer
    from chains.conversations import ConversationNotFound
    store = _app(args).conversations
    user = _acting_user(args)
    owner = user.name if user is not None else None
    if args.list:
        return _list_conversations(store, args.kb, owner)
    if args.conversation:
        conv = store.get(args.conversation)  # ConversationNotFound: one sentence, exit 1
        if user is not None and conv.owner != owner:
            raise ConversationNotFound(args.conversation)  # another user's: as if it did not exist
        args.kb = conv.kb  # a conversation continues on the knowledge base it was held with
        for turn in conv.turns:
            print(f"\n> {turn.question}\n{turn.answer}")
    kb = _kb(args, read_only=True)
    session = ChatSession(kb, _llm(args), store=store, conversation_id=args.conversation, k=args.k,
                          reranker=_reranker(args), owner=owner)
    print(f"DocChat on '{kb.name}': ask about your documents (Ctrl-D to leave).")
    try:
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                print()
                return 0
            if not question:
                continue
            answer = Answer(question)
            for piece in session.stream(question, answer):
                _echo(piece, True)
            print()
            _print_sources(answer)
    finally:
        if session.conversation_id:
            print(f"(conversation {session.conversation_id}: docchat chat --conversation "
                  f"{session.conversation_id} to continue)", file=sys.stderr)


def _list_conversations(store, kb: str | None, owner: str | None = None) -> int:
    import time
    for conv in store.list(kb=kb, owner=owner):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conv.updated))
        print(_plain(f"{conv.id}  {when}  {conv.kb:<12} {conv.n_turns:>3} turns  {conv.title}"))
    return 0


def _read_password(prompt: str) -> str:
    """From the terminal (asked twice, not echoed), or the first line of standard input."""
    if sys.stdin.isatty():
        import getpass
        first = getpass.getpass(prompt)
        if getpass.getpass("again / 再输入一次: ") != first:
            from .accounts import AccountError
            raise AccountError("两次输入的密码不一致。", "The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _admin_only(args) -> None:
    user = _acting_user(args)
    if user is not None and not user.is_admin:
        from .accounts import AccountError
        raise AccountError("只有管理员可以管理用户和权限。", "Only administrators may manage users and permissions.")


def cmd_users(args) -> int:
    """Accounts (DOCCHAT_ACCOUNTS=1): add, list, remove, passwd. Passwords come from standard
    input, never from the command line (where other users of the machine could see them)."""
    import time

    from .factory import account_store
    settings = get_settings()
    _admin_only(args)
    store = account_store(settings)
    if args.action == "list":
        for u in store.users():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(u.created))
            print(_plain(f"{u.name:<24} {u.role:<7} {when}"))
        return 0
    if not args.name:
        print(f"docchat users {args.action} needs a NAME", file=sys.stderr)
        return 2
    if args.action == "add":
        user = store.add_user(args.name, _read_password("password / 密码: "), admin=args.admin)
        print(_plain(f"added {user.name} ({user.role})"))
        if not settings.accounts:
            print("账户功能尚未开启：设置 DOCCHAT_ACCOUNTS=1 后，网页才要求登录。" if settings.lang == "zh" else
                  "Accounts are off: set DOCCHAT_ACCOUNTS=1 for the page to ask people to sign in.",
                  file=sys.stderr)
    elif args.action == "remove":
        if not store.remove_user(args.name):
            raise store.unknown(args.name)
        print(_plain(f"removed {args.name}"))
    elif args.action == "passwd":
        if store.get_user(args.name) is None:
            raise store.unknown(args.name)
        store.set_password(args.name, _read_password("new password / 新密码: "))
        print(_plain(f"new password set for {args.name}; their open sessions ended"))
    return 0


def cmd_access(args) -> int:
    """Who may read / change a knowledge base: shown, or set with --read / --change."""
    from .factory import kb_access
    from .kb_access import EVERYONE
    _admin_only(args)
    access = kb_access()
    rule = access.rule(args.kb_name)
    if args.read is not None or args.change is not None:
        split = lambda text: [n.strip() for n in text.split(",") if n.strip()]  # noqa: E731
        rule = access.set_rule(args.kb_name, split(args.read) if args.read is not None else rule.readers,
                               split(args.change) if args.change is not None else rule.writers)
    show = lambda names: ", ".join("everyone" if n == EVERYONE else n for n in names) or "administrators only"  # noqa: E731
    print(_plain(f"{args.kb_name}: read: {show(rule.readers)}; change: {show(rule.writers)}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docchat", description="Chat with your documents.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--user", default=None,
                        help="with accounts on: act as this user (only the knowledge bases and "
                             "conversations they may see); default DOCCHAT_USER")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_kb(p):
        p.add_argument("--kb", default=None, help="knowledge base name (default from settings)")
        return p

    p = with_kb(sub.add_parser("ingest", help="add files or folders to a knowledge base"))
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sync", action="store_true",
                   help="mirror ONE folder: also remove documents whose files are gone from it")
    p.add_argument("--progress", action="store_true", help="show per-file progress on stderr")
    p.add_argument("--faq", action="store_true",
                   help="trust these question/answer tables as FAQ lists: their answers are given "
                        "word for word (other tables are ordinary documents)")
    p.set_defaults(func=cmd_ingest)

    p = with_kb(sub.add_parser("list", help="list the documents of a knowledge base"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = with_kb(sub.add_parser("delete", help="remove a document (by file name or sha256)"))
    p.add_argument("name")
    p.set_defaults(func=cmd_delete)

    p = with_kb(sub.add_parser("search", help="find the passages that match a query"))
    p.add_argument("query")
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    p.add_argument("--source", action="append", help="only search this document (repeatable)")
    p.add_argument("--expand", type=int, default=0, help="pull in N neighbouring chunks on each side")
    p.add_argument("--no-floor", action="store_true", help="return hits even for off-topic queries")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = with_kb(sub.add_parser("check", help="do Chroma, the keyword index and the catalog hold the same passages?"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = with_kb(sub.add_parser("reindex", help="re-chunk and re-embed every document"))
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=cmd_reindex)

    p = with_kb(sub.add_parser("ask", help="answer one question from the documents"))
    p.add_argument("question")
    p.add_argument("--llm", choices=list(BACKENDS), default=None)
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--plain", action="store_true", help="send the question to the model without documents")
    p.add_argument("--history", metavar="FILE",
                   help='earlier turns: a JSON list of {"question": ..., "answer": ...}, oldest first')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = with_kb(sub.add_parser("summarize", help="summarise one document (map-reduce over its passages)"))
    p.add_argument("name", help="the document's file name in the knowledge base")
    p.add_argument("--lang", choices=["zh", "en"], default=None, help="summary language (default: the document's)")
    p.add_argument("--llm", choices=list(BACKENDS), default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summarize)

    p = with_kb(sub.add_parser("chat", help="ask questions in the terminal, with history"))
    p.add_argument("--llm", choices=list(BACKENDS), default=None)
    p.add_argument("-k", type=int, default=None)
    p.add_argument("--conversation", metavar="ID", help="continue a stored conversation")
    p.add_argument("--list", action="store_true", help="list stored conversations (of --kb if given)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="start the web page on DOCCHAT_SERVER_ADDRESS:DOCCHAT_SERVER_PORT")
    p.add_argument("--address", default=None, help="listen address (default: DOCCHAT_SERVER_ADDRESS, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: DOCCHAT_SERVER_PORT, 8501)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="accounts: add NAME [--admin] | list | remove NAME | passwd NAME "
                                     "(the password is read from standard input)")
    p.add_argument("action", choices=["add", "list", "remove", "passwd"])
    p.add_argument("name", nargs="?")
    p.add_argument("--admin", action="store_true", help="add: an administrator")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("access", help="show or set who may read / change a knowledge base")
    p.add_argument("kb_name", metavar="KB")
    p.add_argument("--read", metavar="USERS", help="comma-separated names, '*' for everyone, '' for nobody")
    p.add_argument("--change", metavar="USERS", help="comma-separated names, '*' for everyone, '' for admins only")
    p.set_defaults(func=cmd_access)

    p = sub.add_parser("db", help="migrate --to URL: move this home's SQLite stores into PostgreSQL (nothing "
                                  "re-embedded) | upgrade: bring DOCCHAT_DATABASE_URL's schema up to date")
    p.add_argument("action", choices=["migrate", "upgrade"])
    p.add_argument("--to", help="postgresql+pg8000://user:password@host:5432/dbname")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("kbs", help="list, create or delete knowledge bases")
    p.add_argument("action", choices=["list", "create", "delete"])
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_kbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if getattr(args, "k", 0) is None:
        args.k = get_settings().top_k
    if args.command == "kbs" and args.action != "list" and not args.name:
        print("docchat kbs create|delete needs a NAME", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except UserError as err:
        # Problems a user can fix: one plain sentence, no traceback (the page says the same).
        print(describe(err, get_settings().lang), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
