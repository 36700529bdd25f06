-- The Orthanc error code of a failed instance: a job that fails takes its first failure's code as
-- its ErrorCode, and a synchronous call answers with that code's HTTP status, as Orthanc does.
ALTER TABLE "job_instances" ADD COLUMN "error_code" INTEGER;
