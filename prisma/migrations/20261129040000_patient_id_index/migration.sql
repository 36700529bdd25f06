-- CreateIndex
CREATE INDEX "patients_patient_id_idx" ON "patients"("patient_id");
