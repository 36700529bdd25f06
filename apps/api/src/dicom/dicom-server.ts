import { createServer, Server, Socket } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Implementation, log as dimseLog, Scp } from 'dcmjs-dimse';
import { settlesWithin } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { InstanceStoreService } from '@deidflow/core';
import { MetadataRepository } from '@deidflow/database';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '@deidflow/dicom';
import { RequestBodyBudget } from '../http/request-body-budget';
import { storageScpClass } from './storage-scp';

/** Associations still open at shutdown are given this long to finish the C-STORE under way. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Orthanc's DICOM server (DicomServerEnabled, DicomAet, DicomPort), in the API process: C-ECHO, and
 * C-STORE of every storage SOP class into the index, as uploads (storage-scp.ts). dcmjs-dimse speaks
 * the protocol; this owns the listening socket, so that it binds DICOM_HOST (dcmjs-dimse's own
 * Server binds every interface) and closes with the process.
 */
@Injectable()
export class DicomServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('DicomServer');
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: InstanceStoreService,
    private readonly metadata: MetadataRepository,
    private readonly memory: RequestBodyBudget,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    routeProtocolLogs(this.logger);
    Implementation.setImplementationClassUid(IMPLEMENTATION_CLASS_UID);
    Implementation.setImplementationVersion(IMPLEMENTATION_VERSION_NAME);
    const StorageScp = storageScpClass({ config: this.config, store: this.store, metadata: this.metadata, memory: this.memory, logger: this.logger });
    const server = createServer((socket) => this.accept(socket, new StorageScp(socket, {})));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.DICOM_PORT, this.config.DICOM_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err: err.message }, 'DICOM server error'));
    this.logger.log({ aet: this.config.DICOM_AET, host: this.config.DICOM_HOST, port: this.port }, 'DICOM server listening (C-ECHO, C-STORE)');
  }

  /** The port listened on (DICOM_PORT, or the one given for 0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // No new association; those open are given a moment to finish (a C-STORE under way answered), then cut.
    if (!(await settlesWithin(closed, CLOSE_GRACE_MS))) for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: Socket, scp: Scp): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    (scp as Scp & { connected: boolean }).connected = true; // as dcmjs-dimse's Server marks the SCPs it makes
    scp.on('networkError', (err: Error) => {
      this.logger.warn({ err: err.message, remote: socket.remoteAddress }, 'DICOM association ended on a network error');
      socket.end();
    });
  }
}

/** dcmjs-dimse logs every PDU at trace level on the console by default: warnings and errors go to the service's log instead. */
function routeProtocolLogs(logger: Logger): void {
  dimseLog.methodFactory = (method) => (...args: unknown[]) => {
    const message = args.map(String).join(' ');
    if (method === 'error') logger.error(message);
    else logger.warn(message);
  };
  dimseLog.setLevel('warn');
}
