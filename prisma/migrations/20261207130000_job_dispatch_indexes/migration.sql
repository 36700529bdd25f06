-- The dispatches of the work queue (JobRepository.dispatchQueueWindows) with thousands of jobs
-- waiting for room: without these, each read every queueable job (~90 ms at 100,000 of them).
-- Partial indexes, which schema.prisma cannot declare (listed in test/integration/schema-drift.spec.ts).

-- The jobs to serve next, in service order: read until enough of them need a window.
CREATE INDEX "jobs_queueable_order_idx" ON "jobs" ("priority" DESC, "created_at", "id")
  WHERE ready AND state IN ('Pending', 'Running', 'Retry');

-- The room taken: only jobs with instances claimed (queued_count > 0) may hold tasks in the queue.
-- queued_count changes once per window, so the counters' updates per completion stay HOT.
CREATE INDEX "jobs_claimed_idx" ON "jobs" ("id")
  WHERE ready AND state IN ('Pending', 'Running', 'Retry') AND queued_count > 0;
