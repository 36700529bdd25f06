-- A job keeps at most QUEUE_WINDOW_PER_JOB of its instances in the work queue (Redis) at once, and
-- the workers queue the next ones as they complete it: a queued task takes ~1.3 kB of Redis, so a
-- million-instance job queued whole took 1.3 GB (thirteenth session). queued_through is where the
-- current pass over the job's PENDING rows stands (in key order; NULL before the first window),
-- queued_count the instances done when the pass began plus those queued since (instances_count once
-- the pass reached the end).
ALTER TABLE "jobs" ADD COLUMN "queued_through" CHAR(44),
                   ADD COLUMN "queued_count" INTEGER NOT NULL DEFAULT 0;
