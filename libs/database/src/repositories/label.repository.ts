import { Injectable } from '@nestjs/common';
import type { ResourceLevel } from '@deidflow/common';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { heldResource, LEVEL_TABLE, statementPerLevel } from './instance-scope';

/** Orthanc's labels of resources (table resource_labels), in byte order as Orthanc's std::set sorts them. */
@Injectable()
export class LabelRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The labels of many resources: resource ID → its labels ([] when it has none). */
  async labelsOfMany(resourceIds: readonly string[]): Promise<Map<string, string[]>> {
    const labels = new Map<string, string[]>(resourceIds.map((id) => [id, []]));
    for (const row of await this.prisma.prepared<{ resourceId: string; label: string }>(LABELS_OF, [resourceIds])) labels.get(row.resourceId)?.push(row.label);
    return labels;
  }

  /** Adds a label (nothing when it is there already); resolves to whether the resource exists. */
  async add(level: ResourceLevel, resourceId: string, label: string): Promise<boolean> {
    const [row] = await this.prisma.prepared<{ n: number }>(ADD_LABEL[level], [resourceId, label]);
    return row.n > 0;
  }

  /** Removes a label (nothing when it is not there). */
  async remove(resourceId: string, label: string): Promise<void> {
    await this.prisma.prepared(REMOVE_LABEL, [resourceId, label]);
  }

  /**
   * Orthanc's KeepLabels of a modification: each output of the job (instance, series, study,
   * patient) gets the labels of the resource it was derived from, from the job's lineage. Idempotent.
   */
  async copyToOutputsOfJob(jobId: string): Promise<void> {
    await this.prisma.prepared(COPY_TO_OUTPUTS, [jobId]);
  }

  /** Every label that some resource has (GET /tools/labels). */
  async allLabels(): Promise<string[]> {
    return (await this.prisma.prepared<{ label: string }>(ALL_LABELS, [])).map((r) => r.label);
  }
}

const LABELS_OF: PreparedStatement = {
  name: 'deidflow_labels_of',
  text: `SELECT resource_id AS "resourceId", label FROM resource_labels WHERE resource_id = ANY($1::bpchar[]) ORDER BY resource_id, label COLLATE "C"`,
};

/** The resource held against a deletion meanwhile (heldResource): a label is never left behind its resource. */
const ADD_LABEL = statementPerLevel((level) => ({
  name: `deidflow_add_label_${LEVEL_TABLE[level]}`,
  text: `WITH target AS (${heldResource(level)}),
    added AS (INSERT INTO resource_labels (resource_id, label) SELECT id, $2 FROM target ON CONFLICT DO NOTHING)
    SELECT count(*)::int AS n FROM target`,
}));

const REMOVE_LABEL: PreparedStatement = {
  name: 'deidflow_remove_label',
  text: `DELETE FROM resource_labels WHERE resource_id = $1 AND label = $2`,
};

const COPY_TO_OUTPUTS: PreparedStatement = {
  name: 'deidflow_copy_labels_to_outputs',
  long: true,
  text: `WITH outputs AS (
      -- Held as heldResource() holds one resource: a deletion of an output comes first or waits.
      SELECT l.output_instance_id AS id, l.source_instance_id AS source_id
      FROM lineage l JOIN instances o ON o.id = l.output_instance_id JOIN series os ON os.id = o.series_id
      WHERE l.job_id = $1::uuid
      FOR KEY SHARE OF o, os
    )
    INSERT INTO resource_labels (resource_id, label)
    SELECT DISTINCT pair.output_id, rl.label
    FROM outputs
      JOIN instances o ON o.id = outputs.id JOIN series os ON os.id = o.series_id JOIN studies ot ON ot.id = os.study_id
      JOIN instances s ON s.id = outputs.source_id JOIN series ss ON ss.id = s.series_id JOIN studies st ON st.id = ss.study_id
      CROSS JOIN LATERAL (VALUES (o.id, s.id), (os.id, ss.id), (ot.id, st.id), (ot.patient_id, st.patient_id)) AS pair(output_id, source_id)
      JOIN resource_labels rl ON rl.resource_id = pair.source_id
    ON CONFLICT DO NOTHING`,
};

/** Distinct labels through the label index, in byte order. */
const ALL_LABELS: PreparedStatement = {
  name: 'deidflow_all_labels',
  text: `SELECT label FROM (SELECT DISTINCT label FROM resource_labels) AS used ORDER BY label COLLATE "C"`,
};
