import { isUtf8 } from 'node:buffer';
import { Inject, Injectable } from '@nestjs/common';
import { isUserMetadata, MetadataNames, OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { MetadataRepository, ResourceRepository } from '@deidflow/database';
import { assertId, BrowseService, existingResource } from './browse.service';
import { sortKeys } from './resource-formatter';

export interface MetadataListing {
  /** `{name: value}` instead of the names. */
  expand: boolean;
  /** Numbers instead of names (Orthanc's `?numeric`). */
  numeric: boolean;
}

/**
 * Orthanc's /{level}/{id}/metadata routes: the automatic metadata, the lineage a job records, and
 * user-defined metadata (USER_METADATA names them; any number from 1024 to 65535 works too), which
 * alone can be set and deleted. Names resolve as Orthanc's StringToMetadata does.
 */
@Injectable()
export class MetadataService {
  private readonly names: MetadataNames;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly browse: BrowseService,
    private readonly metadata: MetadataRepository,
    private readonly resources: ResourceRepository,
  ) {
    this.names = new MetadataNames(config.USER_METADATA);
  }

  /** The names (or `{name: value}`) of every metadata of the resource, in Orthanc's order: by number. */
  async list(level: ResourceLevel, id: string, { expand, numeric }: MetadataListing): Promise<unknown> {
    const entries = [...(await this.entries(level, id))].sort(([a], [b]) => a - b);
    if (!expand) return entries.map(([type]) => (numeric ? type : this.names.nameOf(type)));
    return sortKeys(Object.fromEntries(entries.map(([type, value]) => [numeric ? String(type) : this.names.nameOf(type), value])));
  }

  async value(level: ResourceLevel, id: string, name: string): Promise<string> {
    const type = this.typeOf(name);
    const value = (await this.entries(level, id)).get(type);
    if (value === undefined) throw new OrthancError(OrthancErrorCode.InexistentItem, `No metadata "${name}"`);
    return value;
  }

  /** Sets a user-defined metadata to the body, text (logged as UpdatedMetadata in GET /changes); resolves to the value. */
  async set(level: ResourceLevel, id: string, name: string, body: Buffer): Promise<string> {
    const type = this.userTypeOf(name);
    assertId(id);
    // Postgres text holds UTF-8 without NUL: anything else would be a 500, or replaced characters.
    if (!isUtf8(body) || body.includes(0)) throw OrthancError.badRequest('The value of a metadata must be UTF-8 text, without NUL characters');
    const value = body.toString('utf8');
    if (!(await this.metadata.setUserMetadata(level, id, type, value))) throw OrthancError.unknownResource();
    return value;
  }

  /** Deletes a user-defined metadata (logged as UpdatedMetadata); 404 when the resource has none of that name, as Orthanc. */
  async delete(level: ResourceLevel, id: string, name: string): Promise<void> {
    const type = this.userTypeOf(name);
    await existingResource(this.resources, level, id);
    if (!(await this.metadata.deleteUserMetadata(level, id, type))) {
      throw new OrthancError(OrthancErrorCode.UnknownResource, `No metadata "${name}" on this resource`);
    }
  }

  /** Every metadata of the resource by number: stored ones are under their name (lineage) or number (user-defined). */
  private async entries(level: ResourceLevel, id: string): Promise<Map<number, string>> {
    const byName = await this.browse.metadataOf(level, id);
    return new Map(Object.entries(byName).map(([name, value]) => [this.names.typeOf(name) ?? Number.NaN, value]));
  }

  private typeOf(name: string): number {
    const type = this.names.typeOf(name);
    if (type === undefined) {
      throw new OrthancError(OrthancErrorCode.InexistentItem, `Unknown metadata "${name}": neither a system metadata, a number, nor a name of USER_METADATA`);
    }
    return type;
  }

  private userTypeOf(name: string): number {
    const type = this.typeOf(name);
    if (!isUserMetadata(type)) {
      // Orthanc answers a bare 403.
      throw new OrthancError(OrthancErrorCode.BadRequest, `Metadata "${name}" is not user-defined (numbers 1024 to 65535): it cannot be changed`, 403);
    }
    return type;
  }
}
