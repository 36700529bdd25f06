/**
 * The S3-compatible server of the s3 column, in its own process (like MinIO would be): serves
 * `directory` on 127.0.0.1 at a free port and prints `{"port":N}` once listening.
 *
 *   node dist/bench/s3rver-process.js DIRECTORY
 */
import type { AddressInfo } from 'node:net';

interface S3rverServer {
  run(): Promise<AddressInfo>;
}
type S3rverConstructor = new (options: { address: string; port: number; directory: string; silent: boolean }) => S3rverServer;

// s3rver ships no types; test/setup/s3rver.d.ts declares them for the tests only.
const S3rver = require('s3rver') as S3rverConstructor;

async function main(): Promise<void> {
  const directory = process.argv[2];
  if (!directory) throw new Error('Usage: node s3rver-process.js DIRECTORY');
  const { port } = await new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true }).run();
  console.log(JSON.stringify({ port }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
