-- The new resources of a finished bulk job, one row each (see schema.prisma, JobOutputResource),
-- instead of one JSON array in jobs.output.

-- CreateTable
CREATE TABLE "job_outputs" (
    "job_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "resource_id" CHAR(44) NOT NULL,
    "type" TEXT NOT NULL,

    CONSTRAINT "job_outputs_pkey" PRIMARY KEY ("job_id","position")
);

-- AddForeignKey
ALTER TABLE "job_outputs" ADD CONSTRAINT "job_outputs_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The bulk jobs finished before: their arrays become rows.
INSERT INTO "job_outputs" ("job_id", "position", "resource_id", "type")
SELECT j."id", e.n, e.r->>'ID', e.r->>'Type'
FROM "jobs" j, jsonb_array_elements(j."output"->'Resources') WITH ORDINALITY AS e(r, n)
WHERE j."level" = 'Bulk' AND jsonb_typeof(j."output"->'Resources') = 'array';

UPDATE "jobs" SET "output" = '{"Resources": []}' WHERE "level" = 'Bulk' AND jsonb_typeof("output"->'Resources') = 'array';
