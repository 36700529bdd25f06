import { readFileSync } from 'node:fs';
import { createServer, Server as NetServer, Socket } from 'node:net';
import { association as dimseAssociation, constants, log as dimseLog, requests, responses, Scp } from 'dcmjs-dimse';
import { DicomAssociation, DicomNetworkError } from '@deidflow/core';
import { parseInstance, VERIFICATION_SOP_CLASS } from '@deidflow/dicom';
import { samplePath } from '../support/samples';
import { datasetOf, freePort, hasDcmtkStorescp, Storescp, startStorescp } from '../support/storescp';

const OPTIONS = { callingAet: 'DEIDFLOW', timeoutMs: 5_000 };

/** A file as the SCU sends it: its SOP class and instance, transfer syntax, and the dataset's bytes after the meta. */
function instanceOf(name: string) {
  const file = readFileSync(samplePath(name));
  const parsed = parseInstance(file);
  return { sopClassUid: parsed.sopClassUid, sopInstanceUid: parsed.identifiers.sopInstanceUid, transferSyntaxUid: parsed.transferSyntaxUid, dataset: datasetOf(file) };
}

(hasDcmtkStorescp ? describe : describe.skip)('DicomAssociation against DCMTK storescp', () => {
  let storescp: Storescp;
  const remote = () => ({ aet: storescp.aet, host: '127.0.0.1', port: storescp.port });

  beforeAll(async () => {
    storescp = await startStorescp('STORESCP', true);
  });
  afterAll(() => storescp?.stop());

  it('echoes, then stores datasets byte for byte in their own transfer syntax, compressed ones included', async () => {
    const names = ['orthanc-tests/PrivateTags.dcm', 'orthanc-tests/Knix/Loc/IM-0001-0001.dcm', 'pydicom/test_files/MR_small_bigendian.dcm'];
    const instances = names.map(instanceOf);
    const contexts = [
      { id: 1, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: ['1.2.840.10008.1.2'] },
      ...instances.map((instance, i) => ({ id: 3 + 2 * i, abstractSyntaxUid: instance.sopClassUid, transferSyntaxUids: [instance.transferSyntaxUid] })),
    ];
    const association = await DicomAssociation.open(remote(), contexts, OPTIONS);
    expect(await association.echo()).toBe(0);
    for (const instance of instances) {
      const context = association.contextFor(instance.sopClassUid, instance.transferSyntaxUid);
      expect(context).toBeDefined();
      const response = await association.store(context!, instance.sopClassUid, instance.sopInstanceUid, instance.dataset);
      expect(response.status).toBe(0);
    }
    await association.release();

    const received = storescp.received();
    for (const instance of instances) {
      const file = received.find((candidate) => candidate.includes(Buffer.from(instance.sopInstanceUid)));
      expect(file).toBeDefined();
      expect(datasetOf(file!).equals(instance.dataset)).toBe(true);
    }
  });

  it('cannot store in a syntax the remote did not accept: contextFor says so before anything is sent', async () => {
    const instance = instanceOf('orthanc-tests/PrivateTags.dcm');
    const association = await DicomAssociation.open(remote(), [{ id: 1, abstractSyntaxUid: instance.sopClassUid, transferSyntaxUids: ['1.2.3.4.5.6'] }], OPTIONS);
    expect(association.contextFor(instance.sopClassUid, '1.2.3.4.5.6')).toBeUndefined();
    expect(association.contextFor(instance.sopClassUid, instance.transferSyntaxUid)).toBeUndefined();
    await association.release();
  });
});

/** A dcmjs-dimse SCP whose behaviour each test sets. */
class ScriptedScp extends Scp {
  constructor(private readonly socket: Socket) {
    super(socket, {});
  }
  static reject = false;
  static storeStatus = 0;
  static silent = false;
  /** Stops reading its socket once the association is accepted. */
  static stall = false;
  static abortOnStore = false;
  override associationRequested(association: dimseAssociation.Association): void {
    if (ScriptedScp.reject) return this.sendAssociationReject(constants.RejectResult.Permanent, constants.RejectSource.ServiceUser, constants.RejectReason.CalledAeNotRecognized);
    for (const { id } of association.getPresentationContexts()) {
      const context = association.getPresentationContext(id);
      context.setResult(constants.PresentationContextResult.Accept, context.getTransferSyntaxUids()[0]);
    }
    this.sendAssociationAccept();
    if (ScriptedScp.stall) this.socket.pause();
  }
  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
  override abort(): void {
    this.socket.destroy();
  }
  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    if (ScriptedScp.silent) return; // never answers
    if (ScriptedScp.abortOnStore) return this.sendAbort();
    const response = responses.CStoreResponse.fromRequest(request);
    response.setStatus(ScriptedScp.storeStatus);
    callback(response);
  }
}

describe('DicomAssociation against a scripted SCP', () => {
  let server: NetServer;
  let port: number;
  const sockets = new Set<Socket>();
  const remote = () => ({ aet: 'SCRIPTED', host: '127.0.0.1', port });
  const instance = instanceOf('pydicom/test_files/CT_small.dcm');
  const contexts = [{ id: 1, abstractSyntaxUid: instance.sopClassUid, transferSyntaxUids: [instance.transferSyntaxUid] }];

  beforeAll(async () => {
    dimseLog.setLevel('silent'); // dcmjs-dimse logs every PDU on the console by default
    server = createServer((socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const scp = new ScriptedScp(socket) as ScriptedScp & { connected: boolean };
      scp.connected = true;
      scp.on('networkError', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(() => Object.assign(ScriptedScp, { reject: false, storeStatus: 0, silent: false, stall: false, abortOnStore: false }));
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reports a refused association', async () => {
    ScriptedScp.reject = true;
    await expect(DicomAssociation.open(remote(), contexts, OPTIONS)).rejects.toThrow(/refused the association \(permanent, source 1, reason 7\)/);
  });

  it('gives the status of a refused C-STORE (A700) and goes on with the next', async () => {
    const association = await DicomAssociation.open(remote(), contexts, OPTIONS);
    ScriptedScp.storeStatus = 0xa700;
    expect((await association.store(1, instance.sopClassUid, instance.sopInstanceUid, instance.dataset)).status).toBe(0xa700);
    ScriptedScp.storeStatus = 0;
    expect((await association.store(1, instance.sopClassUid, instance.sopInstanceUid, instance.dataset)).status).toBe(0);
    await association.release();
  });

  it('gives up on a remote that does not answer, within the timeout', async () => {
    const association = await DicomAssociation.open(remote(), contexts, { ...OPTIONS, timeoutMs: 300 });
    ScriptedScp.silent = true;
    await expect(association.store(1, instance.sopClassUid, instance.sopInstanceUid, instance.dataset)).rejects.toThrow(DicomNetworkError);
    association.abort();
  });

  it('fails the store when the remote aborts the association', async () => {
    const association = await DicomAssociation.open(remote(), contexts, OPTIONS);
    ScriptedScp.abortOnStore = true;
    await expect(association.store(1, instance.sopClassUid, instance.sopInstanceUid, instance.dataset)).rejects.toThrow(/aborted the association/);
    expect(association.usable).toBe(false);
  });

  it('gives up on a remote that stops reading mid-dataset (the socket never drains), within the timeout', async () => {
    ScriptedScp.stall = true;
    const association = await DicomAssociation.open(remote(), contexts, { ...OPTIONS, timeoutMs: 500 });
    const large = Buffer.alloc(32 * 1024 * 1024);
    await expect(association.store(1, instance.sopClassUid, instance.sopInstanceUid, large)).rejects.toThrow(/no room to send/);
    association.abort();
  });

  it('reports a connection refused', async () => {
    await expect(DicomAssociation.open({ aet: 'NOBODY', host: '127.0.0.1', port: await freePort() }, contexts, OPTIONS)).rejects.toThrow(DicomNetworkError);
  });
});
