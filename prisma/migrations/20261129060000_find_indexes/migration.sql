-- /tools/find at an archive's size (find-sql.ts; measured by npm run bench:index).

-- CreateIndex: case-sensitive exact matches of any main tag, written as containment (@>)
CREATE INDEX "patients_main_dicom_tags_idx" ON "patients" USING GIN ("main_dicom_tags" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "studies_main_dicom_tags_idx" ON "studies" USING GIN ("main_dicom_tags" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "series_main_dicom_tags_idx" ON "series" USING GIN ("main_dicom_tags" jsonb_path_ops);

-- Expression indexes, which schema.prisma cannot declare (listed in test/integration/schema-drift.spec.ts).
-- Person names match case-insensitively: exact names and prefixes (DOE^*) on lower(PatientName).
CREATE INDEX "patients_patient_name_lower_idx" ON "patients" (lower("main_dicom_tags" ->> 'PatientName') text_pattern_ops);

-- Study date ranges, the most common worklist and research query.
CREATE INDEX "studies_study_date_idx" ON "studies" (("main_dicom_tags" ->> 'StudyDate'));
