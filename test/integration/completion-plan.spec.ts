import { COMPLETE_INSTANCES, JobRepository } from '@deidflow/database';
import { Client } from 'pg';
import { resetDatabase } from '../support/app-harness';
import { createBareJob, testDatabase } from '../support/database';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * The completion statement runs for every batch of instances of every job: it must read the
 * batch's rows of job_instances by key, whatever Postgres' statistics say. With statistics older
 * than a large submission (autovacuum off, or not run yet), a (job_id, state) index once made its
 * generic plan read every PENDING row of the job per batch: quadratic in the job's size
 * (BENCHMARKS.md, twelfth session). No timing here: the plan's shape.
 */
describe('the completion statement’s plan (real Postgres)', () => {
  const database = testDatabase();
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
  });
  afterAll(() => client?.end());
  beforeEach(() => resetDatabase());

  it('reads job_instances by its primary key, with statistics taken before a 50,000-instance submission', async () => {
    const jobId = await createBareJob(new JobRepository(database()));
    // Statistics of the empty table, then the submission's rows: what the planner sees before ANALYZE runs again.
    await client.query('ANALYZE job_instances');
    await client.query(
      `INSERT INTO job_instances (job_id, source_instance_id) SELECT $1::uuid, lpad(to_hex(g), 44, '0') FROM generate_series(1, 50000) g`,
      [jobId],
    );

    const parameters = Math.max(...[...COMPLETE_INSTANCES.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query(`PREPARE completion AS ${COMPLETE_INSTANCES.text}`);
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE completion(${Array(parameters).fill('NULL').join(', ')})`);
    await client.query('DEALLOCATE completion');

    // The scans of the table (the UPDATE's own node names it too).
    const reads = nodes(rows[0]['QUERY PLAN'][0].Plan).filter((n) => n['Relation Name'] === 'job_instances' && n['Node Type'] !== 'ModifyTable');
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect({ node: read['Node Type'], index: read['Index Name'] }).toEqual({ node: 'Index Scan', index: 'job_instances_pkey' });
  });
});
