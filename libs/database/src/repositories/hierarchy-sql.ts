import type { ParsedInstance } from '@deidflow/dicom';

// The SQL that indexes one instance and the missing parts of its hierarchy, shared by the upload
// statement (ResourceRepository.storeInstance) and the worker's completion statement
// (JobRepository.completeInstanceWithOutput), so that both follow the same rules.

export interface StoredObject {
  objectKey: string;
  fileSize: number;
  sha256: string;
}

/** How many parameters hierarchyInsertCtes() uses, numbered from its `first`. */
export const HIERARCHY_PARAMETERS = 18;

/**
 * CTEs `p`, `st`, `se`, `i` (RETURNING id when the instance row is new), `u1`-`u3`; no leading WITH.
 * Idempotent: inserts that meet an existing row do nothing, so concurrent uploads of one patient,
 * study or series, or a retried job writing the same output, converge on the same rows. Foreign
 * keys are checked at the end of the statement, so parents can be inserted in sibling CTEs. A new
 * child makes its ancestors "updated" (LastUpdate); the UPDATEs cannot see rows inserted by this
 * statement, whose default is now() anyway.
 */
export function hierarchyInsertCtes(first: number): string {
  const $ = (n: number) => `$${first + n - 1}`;
  return `p AS (
      INSERT INTO patients (id, patient_id, main_dicom_tags) VALUES (${$(1)}, ${$(2)}, ${$(3)}::jsonb) ON CONFLICT (id) DO NOTHING
    ), st AS (
      INSERT INTO studies (id, patient_id, study_instance_uid, main_dicom_tags)
      VALUES (${$(4)}, ${$(1)}, ${$(5)}, ${$(6)}::jsonb) ON CONFLICT (id) DO NOTHING
    ), se AS (
      INSERT INTO series (id, study_id, series_instance_uid, main_dicom_tags)
      VALUES (${$(7)}, ${$(4)}, ${$(8)}, ${$(9)}::jsonb) ON CONFLICT (id) DO NOTHING
    ), i AS (
      INSERT INTO instances (id, series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, main_dicom_tags,
                             index_in_series, object_key, file_size, sha256)
      VALUES (${$(10)}, ${$(7)}, ${$(11)}, ${$(12)}, ${$(13)}, ${$(14)}::jsonb, ${$(15)}::int, ${$(16)}, ${$(17)}::bigint, ${$(18)})
      ON CONFLICT (id) DO NOTHING RETURNING id
    ), u1 AS (
      UPDATE series SET last_update = now() WHERE id = ${$(7)} AND EXISTS (SELECT 1 FROM i)
    ), u2 AS (
      UPDATE studies SET last_update = now() WHERE id = ${$(4)} AND EXISTS (SELECT 1 FROM i)
    ), u3 AS (
      UPDATE patients SET last_update = now() WHERE id = ${$(1)} AND EXISTS (SELECT 1 FROM i)
    )`;
}

/** The values of hierarchyInsertCtes(), in its order. */
export function hierarchyInsertValues(parsed: ParsedInstance, object: StoredObject): unknown[] {
  const { ids, identifiers: uid, mainDicomTags: tags } = parsed;
  return [
    ids.patient,
    uid.patientId,
    JSON.stringify(tags.patient),
    ids.study,
    uid.studyInstanceUid,
    JSON.stringify(tags.study),
    ids.series,
    uid.seriesInstanceUid,
    JSON.stringify(tags.series),
    ids.instance,
    uid.sopInstanceUid,
    parsed.sopClassUid,
    parsed.transferSyntaxUid,
    JSON.stringify(tags.instance),
    parsed.indexInSeries ?? null,
    object.objectKey,
    object.fileSize,
    object.sha256,
  ];
}
