-- Orthanc's modalities registered over REST (PUT /modalities/{name}), shared by every API process and
-- kept across restarts; those of DICOM_MODALITIES (the configuration) are not stored.
CREATE TABLE "dicom_modalities" (
    "name" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dicom_modalities_pkey" PRIMARY KEY ("name")
);
