-- A large asynchronous submission answers at once; a worker adds the job's instance rows
-- (an expand-job task: JobExpansionService). Such a job is not an interrupted submission.
ALTER TABLE "jobs" ADD COLUMN "expansion_queued" BOOLEAN NOT NULL DEFAULT false;

-- Jobs whose instance rows are not all there yet: job recovery reads them at every turn (to queue
-- their expansion again, or to fail an interrupted submission). A handful at any time, among
-- every job of the history. Partial: listed in test/integration/schema-drift.spec.ts.
CREATE INDEX "jobs_unready_idx" ON "jobs" ("created_at") WHERE NOT ready;
