import { ChangeType, RESOURCE_TYPE } from '@deidflow/common';
import { expectedInstancesOfSeries, type ParsedInstance } from '@deidflow/dicom';

// The SQL that indexes instances and the missing parts of their hierarchy, shared by the upload
// statement (ResourceRepository.storeInstance, one instance) and the worker's completion statement
// (JobRepository.completeInstances, a batch), so that both follow the same rules. Every value is an
// array (one element per row, through unnest), so one prepared statement serves any batch size. The
// main DICOM tags of the rows go as one JSON array per level (jsonb_array_elements, zipped with the
// other columns by ROWS FROM): one JSON.stringify per batch, where a text[] of JSON documents had
// node-postgres escape every quote of every document into an array literal.

export interface StoredObject {
  objectKey: string;
  fileSize: number;
  sha256: string;
}

export interface IndexedInstance {
  parsed: ParsedInstance;
  object: StoredObject;
}

/** How many parameters hierarchyInsertCtes() uses, numbered from its `first`. */
export const HIERARCHY_PARAMETERS = 24;

/**
 * CTEs `p`, `st`, `se` (RETURNING id of the rows that are new), `inp` (the instances' values), `i`
 * (RETURNING id of the instance rows that are new), `u1`-`u3`, `ch`; no leading WITH.
 * Idempotent: inserts that meet an existing row do nothing, so concurrent uploads of one patient,
 * study or series, or a retried job writing the same output, converge on the same rows. Foreign
 * keys are checked at the end of the statement, so parents can be inserted in sibling CTEs. A new
 * child makes its ancestors "updated" (LastUpdate); the UPDATEs cannot see rows inserted by this
 * statement, whose default is now() anyway. LastUpdate is shown to the second (Orthanc's
 * YYYYMMDDTHHMMSS), so an ancestor already updated within the current second is left alone: a job
 * writing hundreds of instances of one series per second updates that series' row once a second,
 * not once per batch (every UPDATE of a row is a new row version, and two workers would queue on
 * it); unless the ancestor was stable (or its completion logged): a new instance makes it unstable
 * again, as in Orthanc, whatever the second. `ch` logs what is new (Orthanc's order: NewInstance,
 * then NewSeries, NewStudy, NewPatient of the instance that created them; ChangeRepository). Rows
 * come sorted by ID (hierarchyInsertValues), so concurrent statements take their locks in the same
 * order.
 *
 * Joins with unnest() are planned for 100 rows of unknown values: a prepared statement's generic
 * plan then prefers a sequential scan of the table. Every UPDATE therefore also names its rows
 * with `= ANY(array)`, which the primary key's index serves whatever the table's size. Orthanc
 * IDs are char(44) columns: their arrays are bpchar[], as a text[] would cast the column instead
 * and lose the index.
 */
export function hierarchyInsertCtes(first: number): string {
  const $ = (n: number) => `$${first + n - 1}`;
  return `p AS (
      INSERT INTO patients (id, patient_id, main_dicom_tags)
      SELECT id, pid, tags FROM ROWS FROM (unnest(${$(1)}::bpchar[]), unnest(${$(2)}::text[]), jsonb_array_elements(${$(3)}::jsonb)) AS t(id, pid, tags)
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), st AS (
      INSERT INTO studies (id, patient_id, study_instance_uid, main_dicom_tags, patient_main_dicom_tags)
      SELECT id, pid, uid, tags -> 0, tags -> 1
      FROM ROWS FROM (unnest(${$(4)}::bpchar[]), unnest(${$(5)}::bpchar[]), unnest(${$(6)}::text[]), jsonb_array_elements(${$(7)}::jsonb)) AS t(id, pid, uid, tags)
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), se AS (
      INSERT INTO series (id, study_id, series_instance_uid, main_dicom_tags, expected_instances)
      SELECT id, sid, uid, tags, expected
      FROM ROWS FROM (unnest(${$(8)}::bpchar[]), unnest(${$(9)}::bpchar[]), unnest(${$(10)}::text[]), jsonb_array_elements(${$(11)}::jsonb), unnest(${$(24)}::int[]))
        AS t(id, sid, uid, tags, expected)
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), inp AS (
      SELECT * FROM ROWS FROM (unnest(${$(12)}::bpchar[]), unnest(${$(13)}::bpchar[]), unnest(${$(14)}::text[]), unnest(${$(15)}::text[]),
                               unnest(${$(16)}::text[]), jsonb_array_elements(${$(17)}::jsonb), unnest(${$(18)}::int[]), unnest(${$(19)}::text[]),
                               unnest(${$(20)}::bigint[]), unnest(${$(21)}::text[]), unnest(${$(22)}::bpchar[]), unnest(${$(23)}::bpchar[]))
        WITH ORDINALITY AS t(id, series_id, sop, cls, ts, tags, idx, object_key, file_size, sha256, study_id, patient_id, ord)
    ), i AS (
      INSERT INTO instances (id, series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, main_dicom_tags,
                             index_in_series, object_key, file_size, sha256)
      SELECT id, series_id, sop, cls, ts, tags, idx, object_key, file_size, sha256 FROM inp
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), u1 AS (
      UPDATE series SET last_update = now(), is_stable = false, completion_logged = false
      WHERE id = ANY(${$(8)}::bpchar[]) AND (last_update < date_trunc('second', now()) OR is_stable OR completion_logged)
        AND id IN (SELECT inp.series_id FROM inp JOIN i USING (id))
    ), u2 AS (
      UPDATE studies SET last_update = now(), is_stable = false
      WHERE id = ANY(${$(4)}::bpchar[]) AND (last_update < date_trunc('second', now()) OR is_stable)
        AND id IN (SELECT inp.study_id FROM inp JOIN i USING (id))
    ), u3 AS (
      UPDATE patients SET last_update = now(), is_stable = false
      WHERE id = ANY(${$(1)}::bpchar[]) AND (last_update < date_trunc('second', now()) OR is_stable)
        AND id IN (SELECT inp.patient_id FROM inp JOIN i USING (id))
    ), ch AS (
      INSERT INTO pending_changes (change_type, resource_type, resource_id)
      SELECT change_type, resource_type, id FROM (
        SELECT ${ChangeType.NewInstance} AS change_type, ${RESOURCE_TYPE.Instance} AS resource_type, inp.id, inp.ord * 4 AS o FROM inp JOIN i USING (id)
        UNION ALL SELECT ${ChangeType.NewSeries}, ${RESOURCE_TYPE.Series}, se.id, (SELECT min(ord) FROM inp WHERE inp.series_id = se.id) * 4 + 1 FROM se
        UNION ALL SELECT ${ChangeType.NewStudy}, ${RESOURCE_TYPE.Study}, st.id, (SELECT min(ord) FROM inp WHERE inp.study_id = st.id) * 4 + 2 FROM st
        UNION ALL SELECT ${ChangeType.NewPatient}, ${RESOURCE_TYPE.Patient}, p.id, (SELECT min(ord) FROM inp WHERE inp.patient_id = p.id) * 4 + 3 FROM p
      ) AS new_resources ORDER BY o
    )`;
}

/** The values of hierarchyInsertCtes(), in its order: each patient, study and series once, every row sorted by ID. */
export function hierarchyInsertValues(instances: readonly IndexedInstance[]): unknown[] {
  const sorted = [...instances].sort((a, b) => compare(a.parsed.ids.instance, b.parsed.ids.instance));
  const patients = new Map<string, ParsedInstance>();
  const studies = new Map<string, ParsedInstance>();
  const series = new Map<string, ParsedInstance>();
  for (const { parsed } of sorted) {
    patients.set(parsed.ids.patient, parsed);
    studies.set(parsed.ids.study, parsed);
    series.set(parsed.ids.series, parsed);
  }
  const byId = (map: Map<string, ParsedInstance>) => [...map].sort(([a], [b]) => compare(a, b)).map(([, parsed]) => parsed);
  const p = byId(patients);
  const st = byId(studies);
  const se = byId(series);
  return [
    p.map((x) => x.ids.patient),
    p.map((x) => x.identifiers.patientId),
    JSON.stringify(p.map((x) => x.mainDicomTags.patient)),
    st.map((x) => x.ids.study),
    st.map((x) => x.ids.patient),
    st.map((x) => x.identifiers.studyInstanceUid),
    // A study's own tags, and its patient's as this instance has them (Orthanc's study keeps a copy).
    JSON.stringify(st.map((x) => [x.mainDicomTags.study, x.mainDicomTags.patient])),
    se.map((x) => x.ids.series),
    se.map((x) => x.ids.study),
    se.map((x) => x.identifiers.seriesInstanceUid),
    JSON.stringify(se.map((x) => x.mainDicomTags.series)),
    sorted.map((x) => x.parsed.ids.instance),
    sorted.map((x) => x.parsed.ids.series),
    sorted.map((x) => x.parsed.identifiers.sopInstanceUid),
    sorted.map((x) => x.parsed.sopClassUid),
    sorted.map((x) => x.parsed.transferSyntaxUid),
    JSON.stringify(sorted.map((x) => x.parsed.mainDicomTags.instance)),
    sorted.map((x) => x.parsed.indexInSeries ?? null),
    sorted.map((x) => x.object.objectKey),
    sorted.map((x) => x.object.fileSize),
    sorted.map((x) => x.object.sha256),
    sorted.map((x) => x.parsed.ids.study),
    sorted.map((x) => x.parsed.ids.patient),
    se.map((x) => expectedInstancesOfSeries(x.mainDicomTags.series) ?? null),
  ];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
