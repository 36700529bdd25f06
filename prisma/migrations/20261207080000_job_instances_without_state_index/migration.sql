-- Every statement on job_instances names its job, and the primary key (job_id, source_instance_id)
-- serves all of them. The (job_id, state) index was a trap: before the table's statistics caught up
-- with a large submission (autovacuum off, or not yet run), the completion statement's generic plan
-- chose it and read every PENDING row of the job for each batch of completions: quadratic, 62 ms per
-- batch half-way through a 100,000-instance job (BENCHMARKS.md, twelfth session). Without it, an
-- instance's completion also writes one index entry instead of two.
DROP INDEX "job_instances_job_id_state_idx";
