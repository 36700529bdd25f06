import { Client } from 'pg';

/**
 * DATABASE_URL with an application_name: the fault tests terminate the connections of their own
 * processes only, never those of the test runner or of other test files using the same database.
 */
export function taggedDatabaseUrl(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

async function withClient<T>(databaseUrl: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** pg_terminate_backend on every connection of `applicationName` to the test database; returns how many. */
export async function terminateConnections(databaseUrl: string, applicationName: string): Promise<number> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
      [applicationName],
    );
    return rows.filter((r) => r.terminated).length;
  });
}

export interface JobRowCounts {
  /** job_instances rows of the job (one per source). */
  jobInstances: number;
  /** lineage rows written by the job, and how many distinct outputs and sources they name. */
  lineage: number;
  lineageOutputs: number;
  lineageSources: number;
  /** instances rows of the job's outputs (the index), and metadata rows naming a source. */
  outputInstanceRows: number;
  instanceMetadataRows: number;
}

/** Row counts of one job straight from Postgres, to prove the absence of duplicate rows. */
export async function jobRowCounts(databaseUrl: string, jobId: string): Promise<JobRowCounts> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query(
      `SELECT
         (SELECT count(*) FROM job_instances WHERE job_id = $1)::int AS "jobInstances",
         (SELECT count(*) FROM lineage WHERE job_id = $1)::int AS "lineage",
         (SELECT count(DISTINCT output_instance_id) FROM lineage WHERE job_id = $1)::int AS "lineageOutputs",
         (SELECT count(DISTINCT source_instance_id) FROM lineage WHERE job_id = $1)::int AS "lineageSources",
         (SELECT count(*) FROM instances
           WHERE id IN (SELECT output_instance_id FROM lineage WHERE job_id = $1))::int AS "outputInstanceRows",
         (SELECT count(*) FROM resource_metadata
           WHERE resource_id IN (SELECT output_instance_id FROM lineage WHERE job_id = $1))::int AS "instanceMetadataRows"`,
      [jobId],
    );
    return rows[0] as JobRowCounts;
  });
}
