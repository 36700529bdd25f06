import { createServer, Server, Socket } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Implementation, log as dimseLog, Scp } from 'dcmjs-dimse';
import { settlesWithin } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { InstanceStoreService } from '@deidflow/core';
import { MetadataRepository } from '@deidflow/database';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, PduSizeGuard } from '@deidflow/dicom';
import { RequestBodyBudget } from '../http/request-body-budget';
import { MAX_PDU_LENGTH, storageScpClass } from './storage-scp';

/** Associations still open at shutdown are given this long to finish the C-STORE under way. */
const CLOSE_GRACE_MS = 5_000;
/** Other PDUs (an association request with 128 contexts is ~10 KiB). */
const MAX_OTHER_PDU_LENGTH = 64 * 1024;
/**
 * dcmjs-dimse's timeouts: an association must be requested this soon after connecting, and a
 * connection with no PDU for this long is cut (a sender that went silent mid-dataset holds memory).
 */
const ASSOCIATION_TIMEOUT_MS = 30_000;
const PDU_TIMEOUT_MS = 60_000;

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
    // dcmjs-dimse logs every PDU on the console by default, through the process-wide loglevel root
    // logger; what goes wrong reaches this service's log through its events (networkError, abort).
    dimseLog.setLevel('silent');
    Implementation.setImplementationClassUid(IMPLEMENTATION_CLASS_UID);
    Implementation.setImplementationVersion(IMPLEMENTATION_VERSION_NAME);
    Implementation.setMaxPduLength(MAX_PDU_LENGTH);
    const StorageScp = storageScpClass({ config: this.config, store: this.store, metadata: this.metadata, memory: this.memory, logger: this.logger });
    const server = createServer((socket) => this.accept(socket, StorageScp));
    // Beyond it, a connection is closed at once: the sender tries again later.
    server.maxConnections = this.config.DICOM_MAX_ASSOCIATIONS;
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

  private accept(socket: Socket, StorageScp: ReturnType<typeof storageScpClass>): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // Request and answer, one at a time: Nagle's algorithm would hold each small answer for the peer's delayed ACK.
    socket.setNoDelay(true);
    // Before dcmjs-dimse's own listener, which buffers whatever length a PDU header announces.
    const guard = new PduSizeGuard(MAX_PDU_LENGTH, MAX_OTHER_PDU_LENGTH);
    socket.on('data', (chunk: Buffer) => {
      if (guard.accept(chunk)) return;
      this.logger.warn({ remote: socket.remoteAddress }, 'DICOM connection cut: a PDU announced more than the maximum length this server accepts');
      socket.destroy();
    });
    const scp = new StorageScp(socket, { associationTimeout: ASSOCIATION_TIMEOUT_MS, pduTimeout: PDU_TIMEOUT_MS }) as Scp & { connected: boolean; connectedTime: number };
    // As dcmjs-dimse's Server marks the SCPs it makes ('connect' is a client socket's event): its timeouts count from here.
    scp.connected = true;
    scp.connectedTime = Date.now();
    scp.on('networkError', (err: Error) => {
      this.logger.warn({ err: err.message, remote: socket.remoteAddress }, 'DICOM association ended on a network error');
      // Destroyed, not ended: a peer that keeps its side open would otherwise go on sending into it.
      socket.destroy();
    });
  }
}
