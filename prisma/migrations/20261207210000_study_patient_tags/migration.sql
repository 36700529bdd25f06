-- A study keeps the patient's main DICOM tags of its own first instance, as Orthanc's study does:
-- GET /studies/{id} shows them as PatientMainDicomTags (a study modified with a new PatientName
-- but the same PatientID lands under the same patient, and shows its own name). Null for studies
-- indexed before: their patient's tags are shown.
ALTER TABLE "studies" ADD COLUMN "patient_main_dicom_tags" JSONB;
