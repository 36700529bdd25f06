-- CreateEnum
CREATE TYPE "job_state" AS ENUM ('Pending', 'Running', 'Paused', 'Success', 'Failure', 'Retry');

-- CreateEnum
CREATE TYPE "job_instance_state" AS ENUM ('PENDING', 'DONE', 'FAILED');

-- CreateEnum
CREATE TYPE "operation" AS ENUM ('anonymize', 'modify');

-- CreateTable
CREATE TABLE "patients" (
    "id" CHAR(44) NOT NULL,
    "patient_id" TEXT NOT NULL,
    "main_dicom_tags" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_update" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "patients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "studies" (
    "id" CHAR(44) NOT NULL,
    "patient_id" CHAR(44) NOT NULL,
    "study_instance_uid" TEXT NOT NULL,
    "main_dicom_tags" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_update" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "studies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "series" (
    "id" CHAR(44) NOT NULL,
    "study_id" CHAR(44) NOT NULL,
    "series_instance_uid" TEXT NOT NULL,
    "main_dicom_tags" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_update" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "series_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "instances" (
    "id" CHAR(44) NOT NULL,
    "series_id" CHAR(44) NOT NULL,
    "sop_instance_uid" TEXT NOT NULL,
    "sop_class_uid" TEXT NOT NULL,
    "transfer_syntax_uid" TEXT NOT NULL,
    "main_dicom_tags" JSONB NOT NULL,
    "index_in_series" INTEGER,
    "object_key" TEXT NOT NULL,
    "file_size" BIGINT NOT NULL,
    "md5" CHAR(32) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "resource_metadata" (
    "resource_id" CHAR(44) NOT NULL,
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "resource_metadata_pkey" PRIMARY KEY ("resource_id","name")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL,
    "type" TEXT NOT NULL DEFAULT 'ResourceModification',
    "state" "job_state" NOT NULL DEFAULT 'Pending',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "is_anonymization" BOOLEAN NOT NULL,
    "request" JSONB NOT NULL,
    "secret" CHAR(64) NOT NULL,
    "level" TEXT NOT NULL,
    "source_resources" JSONB NOT NULL,
    "keep_source" BOOLEAN NOT NULL DEFAULT true,
    "permissive" BOOLEAN NOT NULL DEFAULT false,
    "user_data" JSONB,
    "instances_count" INTEGER NOT NULL DEFAULT 0,
    "processed_count" INTEGER NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "output" JSONB,
    "error_code" INTEGER NOT NULL DEFAULT 0,
    "error_details" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_instances" (
    "job_id" UUID NOT NULL,
    "source_instance_id" CHAR(44) NOT NULL,
    "state" "job_instance_state" NOT NULL DEFAULT 'PENDING',
    "output_instance_id" CHAR(44),
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_instances_pkey" PRIMARY KEY ("job_id","source_instance_id")
);

-- CreateTable
CREATE TABLE "lineage" (
    "output_instance_id" CHAR(44) NOT NULL,
    "source_instance_id" CHAR(44) NOT NULL,
    "job_id" UUID,
    "operation" "operation" NOT NULL,
    "request_digest" CHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "lineage_pkey" PRIMARY KEY ("output_instance_id","source_instance_id")
);

-- CreateIndex
CREATE INDEX "patients_created_at_id_idx" ON "patients"("created_at", "id");

-- CreateIndex
CREATE INDEX "studies_patient_id_idx" ON "studies"("patient_id");

-- CreateIndex
CREATE INDEX "studies_study_instance_uid_idx" ON "studies"("study_instance_uid");

-- CreateIndex
CREATE INDEX "studies_created_at_id_idx" ON "studies"("created_at", "id");

-- CreateIndex
CREATE INDEX "series_study_id_idx" ON "series"("study_id");

-- CreateIndex
CREATE INDEX "series_series_instance_uid_idx" ON "series"("series_instance_uid");

-- CreateIndex
CREATE INDEX "series_created_at_id_idx" ON "series"("created_at", "id");

-- CreateIndex
CREATE INDEX "instances_series_id_idx" ON "instances"("series_id");

-- CreateIndex
CREATE INDEX "instances_sop_instance_uid_idx" ON "instances"("sop_instance_uid");

-- CreateIndex
CREATE INDEX "instances_received_at_id_idx" ON "instances"("received_at", "id");

-- CreateIndex
CREATE INDEX "jobs_created_at_idx" ON "jobs"("created_at");

-- CreateIndex
CREATE INDEX "jobs_state_idx" ON "jobs"("state");

-- CreateIndex
CREATE INDEX "job_instances_job_id_state_idx" ON "job_instances"("job_id", "state");

-- CreateIndex
CREATE INDEX "lineage_source_instance_id_idx" ON "lineage"("source_instance_id");

-- CreateIndex
CREATE INDEX "lineage_job_id_idx" ON "lineage"("job_id");

-- AddForeignKey
ALTER TABLE "studies" ADD CONSTRAINT "studies_patient_id_fkey" FOREIGN KEY ("patient_id") REFERENCES "patients"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "series" ADD CONSTRAINT "series_study_id_fkey" FOREIGN KEY ("study_id") REFERENCES "studies"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "instances" ADD CONSTRAINT "instances_series_id_fkey" FOREIGN KEY ("series_id") REFERENCES "series"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_instances" ADD CONSTRAINT "job_instances_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
