-- Orthanc's change log (GET /changes): NewInstance / NewSeries / NewStudy / NewPatient as the index
-- grows, CompletedSeries, and StableSeries / StableStudy / StablePatient once nothing arrived in a
-- resource for STABLE_AGE_SECONDS.
--
-- Index writes append to "pending_changes" (no lock, no ordering between writers). A sequencer
-- moves the committed ones into "changes" under an advisory lock, numbering them as it goes, so
-- that "changes" only ever grows by a prefix in Seq order: a client reading `since` its last Seq
-- never misses a change committed late (sequence values taken at insert time would commit out of
-- order between concurrent writers).
CREATE TABLE "pending_changes" (
    "id" BIGSERIAL NOT NULL,
    "change_type" INTEGER NOT NULL,
    "resource_type" INTEGER NOT NULL,
    "resource_id" CHAR(44) NOT NULL,
    "date" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pending_changes_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "changes" (
    "seq" BIGSERIAL NOT NULL,
    "change_type" INTEGER NOT NULL,
    "resource_type" INTEGER NOT NULL,
    "resource_id" CHAR(44) NOT NULL,
    "date" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "changes_pkey" PRIMARY KEY ("seq")
);

-- A deletion purges the changes of what it deletes, as Orthanc's cascade does (pending_changes,
-- emptied every second by the workers, is read whole).
CREATE INDEX "changes_resource_id_idx" ON "changes"("resource_id");
-- GET /changes?type=StableStudy (Orthanc's ExtendedChanges) on a long log.
CREATE INDEX "changes_change_type_seq_idx" ON "changes"("change_type", "seq");

-- Stability: a new instance makes its series, study and patient unstable; a worker's sweep marks
-- them stable (and logs Stable*) once their last_update is STABLE_AGE_SECONDS old. The resources
-- indexed before this migration count as stable.
ALTER TABLE "patients" ADD COLUMN "is_stable" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "patients" ALTER COLUMN "is_stable" SET DEFAULT false;
ALTER TABLE "studies" ADD COLUMN "is_stable" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "studies" ALTER COLUMN "is_stable" SET DEFAULT false;
ALTER TABLE "series" ADD COLUMN "is_stable" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "series" ALTER COLUMN "is_stable" SET DEFAULT false;

-- CompletedSeries: the number of instances the series announces (ImagesInAcquisition x
-- NumberOfTemporalPositions, ...; null when it announces none or was indexed before this migration),
-- and whether its completion was logged since its last new instance.
ALTER TABLE "series" ADD COLUMN "expected_instances" INTEGER;
ALTER TABLE "series" ADD COLUMN "completion_logged" BOOLEAN NOT NULL DEFAULT false;

-- The sweep reads the unstable resources only.
CREATE INDEX "patients_unstable_idx" ON "patients" ("last_update") WHERE NOT "is_stable";
CREATE INDEX "studies_unstable_idx" ON "studies" ("last_update") WHERE NOT "is_stable";
CREATE INDEX "series_unstable_idx" ON "series" ("last_update") WHERE NOT "is_stable";
