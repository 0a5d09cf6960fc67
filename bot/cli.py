"""The `baton` command line: each subcommand lives in its own module and is wired here."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.db import StoreError
from config import dotenv
from config.defaults import HARNESS_MODELS
from config.dotenv import read_settings
from config.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Command = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from adapters.process import Service  # noqa: PLC0415 - heavy imports only for this command
    from bot import logs, serving, startup  # noqa: PLC0415
    from bot.app import create_app  # noqa: PLC0415

    from_file = dotenv.load(Path(dotenv.ENV_FILE))
    settings = load_settings()
    startup.check(settings)
    logs.configure(settings.log_level, settings.log_format)
    announce = startup.serve_lines(settings, asyncio.run(startup.survey(settings)))
    if from_file:
        # Names only: where each setting came from, never a value.
        announce.insert(0, f"settings from ./{dotenv.ENV_FILE}: {', '.join(from_file)}")
    app = create_app(settings)
    worker = None
    if settings.worker == "process":
        # Jobs run in a child `baton worker` (same settings, from the environment): agent runs
        # then never delay a webhook's acknowledgement. It stops when this server stops or dies.
        worker = Service(
            [sys.executable, "-m", "bot.cli", "worker", "--parent", str(os.getpid())],
            cwd=Path.cwd(), env=os.environ,
        )  # fmt: skip
    try:
        # SIGTERM: uvicorn stops accepting, lets in-flight requests finish, then the lifespan
        # closes the runtime. On SQLite one process serves the file: a single uvicorn worker.
        started = serving.run(app, host=args.host, port=args.port, announce=announce)
    finally:
        if worker is not None:
            # The child's own grace, and a little more for it to hand back what is left.
            worker.stop(grace_s=settings.shutdown_grace_s + 15)
    return 0 if started else 1


def _worker(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from bot import logs, startup  # noqa: PLC0415
    from bot.worker import run_worker  # noqa: PLC0415

    settings = read_settings()
    if args.concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
    startup.check(settings)
    logs.configure(settings.log_level, settings.log_format)
    return asyncio.run(run_worker(settings, parent_pid=args.parent))


def _ask(question: str) -> bool:
    return input(question).strip().lower() in {"y", "yes"}


def _demo(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415
    import logging  # noqa: PLC0415

    from bot import logs  # noqa: PLC0415
    from bot.demo import run_demo  # noqa: PLC0415

    logs.configure("INFO" if args.verbose else "WARNING")
    if not args.verbose:
        # The demo tells its story itself; Baton's own lines only when something is wrong.
        logging.getLogger("bot").setLevel(logging.ERROR)
    demo = run_demo(
        agent=args.agent,
        timeout_s=args.timeout,
        keep=args.keep,
        install=args.install,
        # A question only where someone can answer it.
        ask=_ask if sys.stdin.isatty() and sys.stdout.isatty() else None,
    )
    try:
        return asyncio.run(demo)
    except KeyboardInterrupt:
        # Ctrl-C is how `--keep` is meant to end: the servers and files are gone by now.
        return 0 if args.keep else 130


def _localhub(args: argparse.Namespace) -> int:
    from bot.localhub.cli import run  # noqa: PLC0415

    return run(args)


def _config(args: argparse.Namespace) -> int:
    from config.cli import check_main, schema_main  # noqa: PLC0415

    if args.config_command == "schema":
        return schema_main(["--org"] if args.org else [], out=sys.stdout)
    argv = [args.file] if args.file else []
    if args.org:
        argv += ["--org", args.org]
    if args.repo:
        argv += ["--repo", args.repo]
    return check_main(argv, out=sys.stdout, err=sys.stderr)


def _runs(args: argparse.Namespace) -> int:
    from bot.ledger_cli import print_run, print_runs  # noqa: PLC0415

    settings = read_settings()
    if args.runs_command == "show":
        as_json = args.json or args.show_json
        return print_run(settings, args.run_id, out=sys.stdout, err=sys.stderr, as_json=as_json)
    return print_runs(settings, repo=args.repo, limit=args.limit, out=sys.stdout, as_json=args.json)


def _spend(args: argparse.Namespace) -> int:
    from bot.ledger_cli import print_spend  # noqa: PLC0415

    try:
        return print_spend(
            read_settings(),
            repo=args.repo,
            out=sys.stdout,
            by=args.by,
            month=args.month,
            as_json=args.json,
        )
    except ValueError as exc:
        sys.stderr.write(f"baton spend: {exc}\n")
        return 2


def _positive_days(text: str) -> float:
    """A window of days, as BATON_STATS_WINDOW_DAYS takes it: a number above 0."""
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days above 0")
    return days


def _stats(args: argparse.Namespace) -> int:
    from bot.stats_cli import print_stats  # noqa: PLC0415

    return print_stats(
        read_settings(),
        repo=args.repo,
        out=sys.stdout,
        as_json_=args.json,
        window_days=args.window_days,
    )


def _db(args: argparse.Namespace) -> int:
    from bot.database import upgrade  # noqa: PLC0415
    from bot.store.url import shown  # noqa: PLC0415

    del args
    settings = read_settings()
    applied = upgrade(settings.database_url)
    where = shown(settings.database_url)
    if applied:
        done = ", ".join(str(v) for v in applied)
        print(f"database at {where}: applied schema versions {done}; it is up to date")  # noqa: T201
    else:
        print(f"database at {where} is up to date")  # noqa: T201
    return 0


def _purge(args: argparse.Namespace) -> int:
    from bot.ledger_cli import purge_installation  # noqa: PLC0415

    return purge_installation(read_settings(), args.installation, out=sys.stdout, err=sys.stderr)


def _agent(args: argparse.Namespace) -> int:
    from adapters.agent_cli import agent_main  # noqa: PLC0415

    return agent_main(args.args, out=sys.stdout, err=sys.stderr)


def _agents(args: argparse.Namespace) -> int:
    from adapters.toolchain import agents_main  # noqa: PLC0415

    prefix = ["--prefix", args.prefix] if args.prefix is not None else []
    return agents_main([*prefix, *args.args], out=sys.stdout, err=sys.stderr)


def _version() -> str:
    try:
        return importlib.metadata.version("baton")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed: run from a source tree)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton", description="Route issues and PR commands to coding agents."
    )
    parser.add_argument("--version", action="version", version=f"baton {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the whole label -> agent -> PR loop on this machine")
    # The built-in scripted agent, and each real CLI the demo can drive (bot.demo's REAL_AGENTS).
    demo_agents = ("scripted", *HARNESS_MODELS)
    demo.add_argument(
        "--agent",
        default="scripted",
        choices=demo_agents,
        metavar="AGENT",
        help="the agent the demo issue is routed to: scripted (built in, the default), or a "
        f"real CLI against a local scripted model: {', '.join(demo_agents[1:])}",
    )
    demo.add_argument(
        "--install",
        action="store_true",
        help="install the agent's CLI when it is missing (asked on a terminal otherwise)",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the emulator and the server running until Ctrl-C, to look around",
    )
    demo.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the PR")
    demo.add_argument("--verbose", action="store_true", help="show the server's log lines")
    demo.set_defaults(func=_demo)

    serve = sub.add_parser(
        "serve",
        help="webhook server with its in-process worker",
        description="Receive GitHub's webhooks on POST /webhooks (health on GET /healthz) and "
        "run the agents they ask for. It needs the App's credentials, from the environment or "
        "./.env (which `baton register` writes; the environment wins): BATON_APP_ID, "
        "BATON_PRIVATE_KEY or BATON_PRIVATE_KEY_PATH, and BATON_WEBHOOK_SECRET; "
        "BATON_GITHUB_URL (default https://api.github.com/) and BATON_DATABASE_URL (default "
        "sqlite:///baton.db) say where GitHub and the database are. It checks them all before "
        "starting and says, in one line, what is wrong.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker",
        help="run queued jobs (serve starts one by itself; with PostgreSQL, run many)",
        description="Run queued jobs. With BATON_DATABASE_URL=postgresql://... run as many as "
        "you like, on as many machines; SIGTERM stops taking jobs, lets running agents finish "
        "for BATON_SHUTDOWN_GRACE_S, then hands back the rest for another worker.",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        choices=range(1, 65),
        help="runs at once (default: BATON_WORKER_CONCURRENCY)",
    )
    worker.add_argument("--parent", type=int, help="stop when this process is gone")
    worker.set_defaults(func=_worker)

    hub = sub.add_parser("localhub", help="run the local GitHub emulator alone")
    from bot.localhub.cli import add_arguments  # noqa: PLC0415

    add_arguments(hub)
    hub.set_defaults(func=_localhub)

    config = sub.add_parser("config", help="validate .agents.yml or print its JSON Schema")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = csub.add_parser("check", help="print the effective config with each key's source")
    check.add_argument("file", nargs="?", help="the repo file (default: ./.agents.yml)")
    check.add_argument("--org", help="the org's agents.yml from its settings repo")
    check.add_argument("--repo", help="repository name, for the org file's `repos:` patterns")
    schema = csub.add_parser("schema", help="print the JSON Schema of .agents.yml")
    schema.add_argument(
        "--org", action="store_true", help="of the org's agents.yml (in its settings repository)"
    )
    config.set_defaults(func=_config)

    runs = sub.add_parser("runs", help="recent runs from the ledger")
    runs.add_argument("--repo", help="only this owner/name")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="a JSON list of the runs")
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    show = rsub.add_parser("show", help="one run's facts and its timeline of events")
    show.add_argument("run_id", metavar="RUN_ID")
    # Its own dest: a subcommand's defaults overwrite the parent's values of the same name.
    show.add_argument("--json", dest="show_json", action="store_true", help="one JSON object")
    runs.set_defaults(func=_runs)

    spend = sub.add_parser(
        "spend", help="spend by UTC calendar month, from the ledger, with caps and what is left"
    )
    spend.add_argument("--repo", help="only this owner/name")
    spend.add_argument(
        "--by",
        choices=("repo", "org", "agent", "requester", "month"),
        default="repo",
        help="group by (default: repo; month: every month unless --month)",
    )
    spend.add_argument("--month", metavar="YYYY-MM", help="this UTC month (default: the current)")
    spend.add_argument("--json", action="store_true", help="one JSON object")
    spend.set_defaults(func=_spend)

    stats = sub.add_parser(
        "stats",
        help="the agent scoreboard: merges, zero-touch merges, CI, cost per merged PR",
        description="Per agent, and per agent, label and repository: runs; pull requests "
        "opened, merged, closed unmerged and still open; merge rate, zero-touch merges, "
        "first-try CI passes, review rounds, reverts within 14 days, median time to merge and "
        "cost per merged PR (failed, stopped and refused runs counted in). Rates count only "
        "pull requests old enough to have an outcome; drafts are left out until ready.",
    )
    stats.add_argument("--repo", help="only this owner/name")
    stats.add_argument(
        "--json", action="store_true", help="one JSON object, with each run's own figures"
    )
    stats.add_argument(
        "--window-days",
        type=_positive_days,
        metavar="DAYS",
        help="count an open PR once it is this old (default: BATON_STATS_WINDOW_DAYS, 7)",
    )
    stats.set_defaults(func=_stats)

    # Both take the rest of the line as their own arguments: an option after the first word
    # (`agent run X --help`) is theirs, and only `--help` before it is answered here.
    agent_usage = (
        "baton agent run AGENT --workdir DIR --prompt TEXT [--model M] [--timeout S] "
        "[--max-cost USD] [--json]"
    )
    agent = sub.add_parser(
        "agent",
        help=f"run one agent on a local checkout: {agent_usage.removeprefix('baton ')}",
        usage=agent_usage,
        description="Run one agent on a local checkout, as a run on an issue would, and print "
        "the files it changed, its model and its cost (one JSON object with --json).",
    )
    agent.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    agent.set_defaults(func=_agent)

    agents = sub.add_parser(
        "agents",
        help="the agent CLIs: pinned and found versions; `agents install NAME...`",
        usage="baton agents [--prefix DIR] [list | install [NAME ...]]",
        description="List the agent CLIs Baton drives (pinned version, version found, path), "
        "or install them at their pinned versions (all but the optional ones without a NAME).",
    )
    # A REMAINDER that starts with an option is rejected by argparse: --prefix is parsed here.
    agents.add_argument("--prefix", metavar="DIR", help="where the CLIs are installed")
    agents.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    agents.set_defaults(func=_agents)

    from bot.deliveries_cli import add_deliveries  # noqa: PLC0415
    from bot.doctor.report import add_doctor  # noqa: PLC0415
    from bot.register.cli import add_register  # noqa: PLC0415

    add_doctor(sub)
    add_register(sub)
    add_deliveries(sub)

    db = sub.add_parser("db", help="database maintenance")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dsub.add_parser("upgrade", help="create the schema or apply pending migrations")
    db.set_defaults(func=_db)

    purge = sub.add_parser(
        "purge",
        help="delete the ledger rows of an installation that is gone",
        description="Delete the runs (and their events) of every repository an installation "
        "lost (uninstalled, suspended or deselected): the spend history Baton otherwise keeps.",
    )
    purge.add_argument("--installation", type=int, required=True, metavar="ID")
    purge.set_defaults(func=_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    func: Command = args.func
    try:
        return func(args)
    except SettingsError as exc:
        print(f"baton: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except StoreError as exc:
        print(f"baton: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
