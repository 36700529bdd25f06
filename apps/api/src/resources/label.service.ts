import { Injectable } from '@nestjs/common';
import { assertValidLabel, OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { LabelRepository, ResourceRepository } from '@deidflow/database';
import { assertId, existingResource } from './browse.service';

/** Orthanc's labels (1.12.0): /{level}/{id}/labels[/{label}] and /tools/labels. Adding or removing one twice is harmless, as in Orthanc. */
@Injectable()
export class LabelService {
  constructor(
    private readonly labels: LabelRepository,
    private readonly resources: ResourceRepository,
  ) {}

  async labelsOf(level: ResourceLevel, id: string): Promise<string[]> {
    await existingResource(this.resources, level, id);
    return (await this.labels.labelsOfMany([id])).get(id) ?? [];
  }

  /** Whether the resource has the label: 404 when it has not (or does not exist). */
  async assertHas(level: ResourceLevel, id: string, label: string): Promise<void> {
    assertValidLabel(label);
    if (!(await this.labelsOf(level, id)).includes(label)) throw new OrthancError(OrthancErrorCode.InexistentItem, `No label "${label}" on this resource`);
  }

  async add(level: ResourceLevel, id: string, label: string): Promise<void> {
    assertValidLabel(label);
    assertId(id);
    if (!(await this.labels.add(level, id, label))) throw OrthancError.unknownResource();
  }

  async remove(level: ResourceLevel, id: string, label: string): Promise<void> {
    assertValidLabel(label);
    await existingResource(this.resources, level, id);
    await this.labels.remove(id, label);
  }

  /** Every label in use. */
  all(): Promise<string[]> {
    return this.labels.allLabels();
  }
}
