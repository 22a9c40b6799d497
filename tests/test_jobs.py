"""Job failures are recorded by RQ with their phone numbers masked."""

from __future__ import annotations

from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from hotline.jobs import dispatch_callback_job


def test_a_failed_job_keeps_a_masked_traceback(services, run_jobs, monkeypatch) -> None:
    def explode(session, services, callback_id):
        raise ValueError("Key (phone)=(+8613800138000) already exists")

    monkeypatch.setattr("hotline.dispatch.service.assign_callback", explode)
    services.enqueue("dispatch", dispatch_callback_job, 1, job_id="dispatch-callback-1")

    run_jobs()

    registry = FailedJobRegistry(queue=Queue("dispatch", connection=services.redis))
    assert registry.get_job_ids() == ["dispatch-callback-1"]
    result = Job.fetch("dispatch-callback-1", connection=services.redis).latest_result()
    recorded = result.exc_string if result is not None else ""
    assert "ValueError" in recorded and "JobFailed" in recorded
    assert "13800138000" not in recorded
