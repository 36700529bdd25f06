import { Injectable } from '@nestjs/common';
import { PreparedStatement, PrismaService } from '../prisma.service';

/** The modalities registered over REST (table dicom_modalities): name → Orthanc's parameters object. */
@Injectable()
export class ModalityRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Every registered modality, by name (byte order). */
  async all(): Promise<Map<string, Record<string, unknown>>> {
    const rows = await this.prisma.prepared<{ name: string; parameters: Record<string, unknown> }>(ALL_MODALITIES, []);
    return new Map(rows.map((row) => [row.name, row.parameters]));
  }

  async find(name: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.prisma.prepared<{ parameters: Record<string, unknown> }>(FIND_MODALITY, [name]);
    return row?.parameters;
  }

  /** Registers or replaces a modality. */
  async put(name: string, parameters: Record<string, unknown>): Promise<void> {
    await this.prisma.prepared(PUT_MODALITY, [name, JSON.stringify(parameters)]);
  }

  /** Resolves to whether there was one. */
  async delete(name: string): Promise<boolean> {
    const [row] = await this.prisma.prepared<{ n: number }>(DELETE_MODALITY, [name]);
    return row.n > 0;
  }
}

const ALL_MODALITIES: PreparedStatement = {
  name: 'deidflow_all_modalities',
  text: `SELECT name, parameters FROM dicom_modalities ORDER BY name COLLATE "C"`,
};

const FIND_MODALITY: PreparedStatement = {
  name: 'deidflow_find_modality',
  text: `SELECT parameters FROM dicom_modalities WHERE name = $1`,
};

const PUT_MODALITY: PreparedStatement = {
  name: 'deidflow_put_modality',
  text: `INSERT INTO dicom_modalities (name, parameters) VALUES ($1, $2::jsonb)
    ON CONFLICT (name) DO UPDATE SET parameters = EXCLUDED.parameters, updated_at = CURRENT_TIMESTAMP`,
};

const DELETE_MODALITY: PreparedStatement = {
  name: 'deidflow_delete_modality',
  text: `WITH deleted AS (DELETE FROM dicom_modalities WHERE name = $1 RETURNING 1) SELECT count(*)::int AS n FROM deleted`,
};
