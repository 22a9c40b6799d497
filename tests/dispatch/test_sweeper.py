"""The sweeper: lost dispatch and send jobs are queued again, once (field case 14)."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from hotline.db import utcnow
from hotline.dispatch.models import Callback, CallbackStatus
from hotline.dispatch.sweeper import sweep
from hotline.jobs import schedule_sweep, sweep_job
from hotline.services import Services
from hotline.telephony.models import Message
from tests.dispatch.test_assign import open_callback_case


def _abandon(services: Services, queue_name: str) -> str:
    """Do to the next job of `queue_name` what a worker killed mid-job leaves behind: taken off
    the queue, marked started by a worker whose last heartbeat is long gone."""
    queue = Queue(queue_name, connection=services.redis)
    job_id = queue.pop_job_id()
    assert job_id is not None
    job = Job.fetch(job_id, connection=services.redis)

    with services.redis.pipeline() as pipeline:
        job.prepare_for_execution("killed-worker", pipeline)
        Execution.create(job, ttl=600, pipeline=pipeline, worker_name="killed-worker")
        pipeline.execute()
    job.heartbeat(utcnow() - timedelta(minutes=10), ttl=600)
    assert job_id in StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)
    return job_id


def _sweep(services: Services, minutes_later: int = 5):
    with services.db.session() as session:
        return sweep(session, services, utcnow() + timedelta(minutes=minutes_later))


def _assignment_sms(services: Services) -> list[Message]:
    with services.db.session() as session:
        return list(session.scalars(select(Message).where(Message.purpose == "assignment")))


def test_a_dispatch_killed_mid_job_is_dispatched_again_with_one_sms(
    services: Services, run_jobs, emulator
) -> None:
    _, callback_id = open_callback_case(services)
    lost = _abandon(services, "dispatch")
    assert Job.fetch(lost, connection=services.redis).get_status() == JobStatus.STARTED
    assert run_jobs() == 0

    report = _sweep(services)
    run_jobs()

    assert report.callbacks == [callback_id]
    with services.db.session() as session:
        assert session.get(Callback, callback_id).status is CallbackStatus.ASSIGNED
    assert len(_assignment_sms(services)) == 1
    assert _sweep(services).callbacks == []
    run_jobs()
    listed = services.twilio.messages.list()
    assert len([m for m in listed if "新回电工单" in m.body]) == 1


def test_a_young_or_still_queued_job_is_left_alone(services: Services, run_jobs) -> None:
    open_callback_case(services)

    assert _sweep(services, minutes_later=0).callbacks == []
    assert _sweep(services, minutes_later=5).callbacks == []
    run_jobs()
    assert len(_assignment_sms(services)) == 1


def test_an_sms_whose_send_job_was_lost_is_sent_once(services: Services, run_jobs) -> None:
    open_callback_case(services)
    SimpleWorker(["dispatch"], connection=services.redis).work(burst=True)
    assert Queue("outbound", connection=services.redis).empty() == 1

    report = _sweep(services)
    run_jobs()

    [message] = _assignment_sms(services)
    assert report.messages == [message.id]
    assert message.sid is not None and message.job_id.startswith(f"send-message-{message.id}-")
    assert _sweep(services).messages == []


def test_the_sweep_schedules_itself_once_per_minute(services: Services) -> None:
    at = utcnow() + timedelta(minutes=5)

    first = schedule_sweep(services, at)
    second = schedule_sweep(services, at.replace(second=59))

    assert first == second
    registry = ScheduledJobRegistry(queue=Queue("default", connection=services.redis))
    assert registry.get_job_ids() == [first]

    sweep_job()

    assert len(registry.get_job_ids()) == 2
