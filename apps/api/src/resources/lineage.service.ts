import { Injectable } from '@nestjs/common';
import { orthancTimestamp, ResourceLevel } from '@deidflow/common';
import { LineageEdge, LineageRepository, ResourceRepository } from '@deidflow/database';
import { existingResource } from './browse.service';

/** One step of a lineage: the instances one job derived by one operation, at one generation. */
export interface LineageStep {
  /** 1 for the direct sources (or outputs), 2 for theirs, and so on. */
  Generation: number;
  Operation: 'anonymize' | 'modify';
  /** The job that ran the step (null for derivations recorded without a job). */
  Job: string | null;
  /** SHA-256 of the anonymize/modify request: two steps with the same digest applied the same request. */
  RequestDigest: string;
  CreationTime: string;
  /** Resources of the asked level holding the instances on the other side of the step, if still stored. */
  Resources: string[];
  Instances: { Source: string; Output: string }[];
}

export interface Lineage {
  ID: string;
  Type: ResourceLevel;
  /** Where the resource comes from: nearest generation first. */
  Ancestors: LineageStep[];
  /** What was derived from it: nearest generation first. */
  Descendants: LineageStep[];
}

type Direction = 'ancestors' | 'descendants';

/** Parallel lookups of the index at a time, not to drain the connection pool on big lineages. */
const LOOKUP_CONCURRENCY = 16;

/**
 * GET /{level}/{id}/lineage (beyond Orthanc). Lineage is recorded per instance; a series, study or
 * patient has the union of its instances' lineage, grouped into steps.
 */
@Injectable()
export class LineageService {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly lineage: LineageRepository,
  ) {}

  async of(level: ResourceLevel, id: string): Promise<Lineage> {
    await existingResource(this.resources, level, id);
    const instanceIds = await this.instancesOf(level, id);
    const [ancestors, descendants] = await Promise.all([
      this.lineage.ancestors(instanceIds),
      this.lineage.descendants(instanceIds),
    ]);
    return {
      ID: id,
      Type: level,
      Ancestors: await this.steps(level, ancestors, 'ancestors'),
      Descendants: await this.steps(level, descendants, 'descendants'),
    };
  }

  private async instancesOf(level: ResourceLevel, id: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const batch of this.resources.iterateInstances(level, id)) ids.push(...batch.map((row) => row.id));
    return ids;
  }

  private async steps(level: ResourceLevel, edges: LineageEdge[], direction: Direction): Promise<LineageStep[]> {
    const groups = groupIntoSteps(nearestEdges(edges));
    const farEnds = [...new Set(edges.map((edge) => farEnd(edge, direction)))];
    const resourceOf = await this.resourcesAt(level, farEnds);
    return groups.map((group) => {
      const [first] = group;
      const resources = group.map((edge) => resourceOf.get(farEnd(edge, direction))).filter((r): r is string => r !== undefined);
      return {
        Generation: first.depth,
        Operation: first.operation,
        Job: first.jobId,
        RequestDigest: first.requestDigest,
        CreationTime: orthancTimestamp(first.createdAt),
        Resources: [...new Set(resources)].sort(),
        Instances: group.map((edge) => ({ Source: edge.sourceInstanceId, Output: edge.outputInstanceId })),
      };
    });
  }

  /** For each stored instance, the ID of the resource of `level` that holds it. */
  private async resourcesAt(level: ResourceLevel, instanceIds: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (let i = 0; i < instanceIds.length; i += LOOKUP_CONCURRENCY) {
      await Promise.all(
        instanceIds.slice(i, i + LOOKUP_CONCURRENCY).map(async (instanceId) => {
          const resource = await this.holderOf(level, instanceId);
          if (resource) found.set(instanceId, resource);
        }),
      );
    }
    return found;
  }

  private async holderOf(level: ResourceLevel, instanceId: string): Promise<string | undefined> {
    if (level === 'Instance') return (await this.resources.instanceExists(instanceId)) ? instanceId : undefined;
    const parents = await this.resources.ancestorsOfInstance(instanceId);
    if (!parents) return undefined;
    return level === 'Series' ? parents.series : level === 'Study' ? parents.study : parents.patient;
  }
}

function farEnd(edge: LineageEdge, direction: Direction): string {
  return direction === 'ancestors' ? edge.sourceInstanceId : edge.outputInstanceId;
}

/** The walk may reach an edge at several depths (diamonds): keep its nearest one. Edges come nearest first. */
function nearestEdges(edges: LineageEdge[]): LineageEdge[] {
  const seen = new Set<string>();
  return edges.filter((edge) => {
    const key = `${edge.sourceInstanceId}>${edge.outputInstanceId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Edges of the same generation, job, operation and request form one step; steps keep the edges' order. */
function groupIntoSteps(edges: LineageEdge[]): LineageEdge[][] {
  const groups = new Map<string, LineageEdge[]>();
  for (const edge of edges) {
    const key = [edge.depth, edge.jobId, edge.operation, edge.requestDigest].join('|');
    const group = groups.get(key);
    if (group) group.push(edge);
    else groups.set(key, [edge]);
  }
  return [...groups.values()];
}
