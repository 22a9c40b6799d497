"""The RQ worker of the hotline: `python worker.py` (or `--burst` to drain the queues and stop).

It runs the scheduler too, without which delayed jobs and Retry intervals never run.
"""

from __future__ import annotations

import argparse
import logging

from rq import Worker

from hotline import create_app, services_of
from hotline.db import utcnow
from hotline.jobs import SWEEP_INTERVAL, WORKER_TTL, schedule_sweep
from hotline.logs import configure_logging
from hotline.settings import SettingsError

logger = logging.getLogger("hotline.worker")


def main(argv: list[str] | None = None) -> int:
    """Configure logging, build the app (installing the process's services) and work.

    Returns 0 when the worker stops, 2 for an unusable environment variable. Raises
    hotline.services.ServicesError when REDIS_URL is unset.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)

    configure_logging(args.log_level.upper())

    try:
        app = create_app()
    except SettingsError as error:
        logger.error("cannot start: %s", error)
        return 2
    services = services_of(app)
    queues = list(services.settings.queues)

    logger.info("worker starting queues=%s burst=%s", ",".join(queues), args.burst)
    if not args.burst:
        # The sweep re-schedules itself; this (re)starts the chain. See dispatch/sweeper.py.
        schedule_sweep(services, utcnow() + SWEEP_INTERVAL)
    worker = Worker(queues=queues, connection=services.redis, worker_ttl=WORKER_TTL)
    worker.work(burst=args.burst, with_scheduler=True, logging_level=args.log_level.upper())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
