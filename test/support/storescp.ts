import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DicomAssociation } from '@deidflow/core';
import { VERIFICATION_SOP_CLASS } from '@deidflow/dicom';

/** DCMTK, installed by .ci/run; the tests that need it are skipped without it. */
export const hasDcmtkStorescp = spawnSync('storescp', ['--version']).status === 0;

/** A loopback port free now (for a server that cannot be given 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Everything after a Part 10 file's File Meta Information: the dataset as encoded. */
export function datasetOf(file: Buffer): Buffer {
  return file.subarray(132 + 12 + file.readUInt32LE(140));
}

export interface Storescp {
  readonly aet: string;
  readonly port: number;
  /** Where it writes what it receives. */
  readonly directory: string;
  /** The files received so far. */
  received(): Buffer[];
  stop(): void;
}

/**
 * DCMTK's storescp, the reference storage SCP, writing each dataset exactly as received (+B) into a
 * temp directory; `acceptCompressed` (+xa) accepts every syntax it knows, otherwise only uncompressed ones.
 */
export async function startStorescp(aet: string, acceptCompressed: boolean): Promise<Storescp> {
  const directory = mkdtempSync(join(tmpdir(), 'deidflow-storescp-'));
  const port = await freePort();
  const child: ChildProcess = spawn('storescp', ['+B', ...(acceptCompressed ? ['+xa'] : []), '-aet', aet, '-od', directory, String(port)], { stdio: 'ignore' });
  const stop = () => {
    child.kill();
    rmSync(directory, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const association = await DicomAssociation.open(
        { aet, host: '127.0.0.1', port },
        [{ id: 1, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: ['1.2.840.10008.1.2'] }],
        { callingAet: 'PROBE', timeoutMs: 2_000 },
      );
      await association.release();
      break;
    } catch (err) {
      if (attempt > 50) {
        stop();
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { aet, port, directory, stop, received: () => readdirSync(directory).map((name) => readFileSync(join(directory, name))) };
}
