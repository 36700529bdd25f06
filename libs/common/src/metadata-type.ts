/**
 * Orthanc's metadata types (ServerEnumerations.h): the system ones, and the user-defined range that
 * the UserMetadata option names (USER_METADATA here). Rows of user-defined metadata are stored under
 * their number, so that renaming one in the configuration keeps its values, as in Orthanc.
 */
export const SYSTEM_METADATA: Readonly<Record<string, number>> = {
  IndexInSeries: 1,
  ReceptionDate: 2,
  RemoteAET: 3,
  ExpectedNumberOfInstances: 4,
  ModifiedFrom: 5,
  AnonymizedFrom: 6,
  LastUpdate: 7,
  Origin: 8,
  TransferSyntax: 9,
  SopClassUid: 10,
  RemoteIP: 11,
  CalledAET: 12,
  HttpUsername: 13,
  PixelDataOffset: 14,
  MainDicomTagsSignature: 15,
  MainDicomSequences: 16,
};

export const FIRST_USER_METADATA = 1024;
export const LAST_USER_METADATA = 65535;

/** Whether a metadata number is in the user-defined range (only those can be set or deleted over REST). */
export function isUserMetadata(type: number): boolean {
  return type >= FIRST_USER_METADATA && type <= LAST_USER_METADATA;
}

/** Metadata names both ways, with the deployment's user-defined ones (Orthanc's StringToMetadata and EnumerationToString). */
export class MetadataNames {
  private readonly byNumber = new Map<number, string>();

  constructor(private readonly user: Readonly<Record<string, number>> = {}) {
    for (const [name, type] of [...Object.entries(SYSTEM_METADATA), ...Object.entries(user)]) this.byNumber.set(type, name);
  }

  /** The type of a name: a system or declared name (exact spelling), or any integer; undefined otherwise. */
  typeOf(name: string): number | undefined {
    if (/^-?\d{1,9}$/.test(name)) return Number(name);
    return Object.hasOwn(SYSTEM_METADATA, name) ? SYSTEM_METADATA[name] : Object.hasOwn(this.user, name) ? this.user[name] : undefined;
  }

  /** The name shown for a type: its system or declared name, else the number itself. */
  nameOf(type: number): string {
    return this.byNumber.get(type) ?? String(type);
  }

  /** The declared user-defined metadata (GET /system's UserMetadata). */
  get userDefined(): Readonly<Record<string, number>> {
    return this.user;
  }
}
