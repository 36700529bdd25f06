/**
 * Orthanc's DicomModalities: the remote DICOM nodes DeidFlow may send to, by symbolic name. Each is
 * given as Orthanc accepts it: ["AET", "host", port] (optionally a fourth element, the manufacturer),
 * or an object with AET, Host, Port and Orthanc's optional keys. Answers (GET /modalities?expand)
 * show every key with Orthanc's defaults (RemoteModalityParameters).
 */
export interface DicomModality {
  AET: string;
  Host: string;
  Port: number;
  Manufacturer: string;
  AllowEcho: boolean;
  AllowEventReport: boolean;
  AllowFind: boolean;
  AllowFindWorklist: boolean;
  AllowGet: boolean;
  AllowMove: boolean;
  AllowNAction: boolean;
  AllowStore: boolean;
  AllowTranscoding: boolean;
  /** The calling AE title toward this node; "" for DICOM_AET. */
  LocalAet: string;
  /** Seconds; 0 for DICOM_SCU_TIMEOUT_MS. */
  Timeout: number;
  UseDicomTls: boolean;
}

/** The longest wait for a remote node that a modality or a request may ask for: an hour. */
export const MAX_TIMEOUT_SECONDS = 3600;

const ALLOW_KEYS = ['AllowEcho', 'AllowEventReport', 'AllowFind', 'AllowFindWorklist', 'AllowGet', 'AllowMove', 'AllowNAction', 'AllowStore', 'AllowTranscoding'] as const;

const DEFAULTS: Omit<DicomModality, 'AET' | 'Host' | 'Port'> = {
  Manufacturer: 'Generic',
  ...(Object.fromEntries(ALLOW_KEYS.map((key) => [key, true])) as Record<(typeof ALLOW_KEYS)[number], boolean>),
  LocalAet: '',
  Timeout: 0,
  UseDicomTls: false,
};

/** An AE title: 1 to 16 printable ASCII characters, no backslash, not only spaces. */
export function isAeTitle(text: unknown): text is string {
  return typeof text === 'string' && /^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(text) && text.trim() !== '';
}

/** Parses DICOM_MODALITIES; throws an Error whose message says which entry is wrong and why. */
export function parseDicomModalities(text: string): Record<string, DicomModality> {
  if (text.trim() === '') return {}; // set but empty (docker-compose passes it so)
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON object of modalities, such as {"pacs": ["PACS", "10.0.0.5", 104]}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('must be a JSON object, such as {"pacs": ["PACS", "10.0.0.5", 104]}');
  return Object.fromEntries(Object.entries(parsed).map(([name, entry]) => [name, parseDicomModality(name, entry)]));
}

/**
 * One modality in either of Orthanc's forms (a DICOM_MODALITIES entry, or the body of
 * PUT /modalities/{name}); throws an Error whose message says what is wrong.
 */
export function parseDicomModality(name: string, entry: unknown): DicomModality {
  const fail = (why: string): never => {
    throw new Error(`modality "${name}": ${why}`);
  };
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail('its name must be 1 to 64 letters, digits, "_", "." or "-" (it is a path segment of /modalities)');
  let given: Record<string, unknown>;
  if (Array.isArray(entry)) {
    if (entry.length < 3 || entry.length > 4) fail('an array must be ["AET", "host", port] or ["AET", "host", port, "manufacturer"]');
    given = { AET: entry[0], Host: entry[1], Port: entry[2], ...(entry.length === 4 ? { Manufacturer: entry[3] } : {}) };
  } else if (typeof entry === 'object' && entry !== null) {
    given = entry as Record<string, unknown>;
    for (const key of ['AET', 'Host', 'Port']) if (!(key in given)) fail(`"${key}" is missing`);
  } else {
    return fail('must be an array ["AET", "host", port] or an object with AET, Host and Port');
  }
  const port = typeof given.Port === 'string' && /^\d+$/.test(given.Port) ? Number(given.Port) : given.Port;
  if (!isAeTitle(given.AET)) fail('"AET" must be 1 to 16 printable ASCII characters, no backslash');
  if (typeof given.Host !== 'string' || given.Host.trim() === '') fail('"Host" must be a host name or an address');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) fail('"Port" must be a number from 1 to 65535');
  const result: DicomModality = { ...DEFAULTS, AET: given.AET as string, Host: given.Host as string, Port: port as number };
  for (const [key, value] of Object.entries(given)) {
    if (key === 'AET' || key === 'Host' || key === 'Port') continue;
    if ((ALLOW_KEYS as readonly string[]).includes(key) || key === 'UseDicomTls') {
      if (typeof value !== 'boolean') fail(`"${key}" must be true or false`);
      (result as unknown as Record<string, unknown>)[key] = value;
    } else if (key === 'AllowStorageCommitment') {
      if (typeof value !== 'boolean') fail(`"${key}" must be true or false`);
      result.AllowNAction = result.AllowEventReport = value as boolean;
    } else if (key === 'Manufacturer') {
      if (typeof value !== 'string') fail('"Manufacturer" must be text');
      result.Manufacturer = value as string;
    } else if (key === 'LocalAet') {
      if (value !== '' && !isAeTitle(value)) fail('"LocalAet" must be an AE title');
      result.LocalAet = value as string;
    } else if (key === 'Timeout') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_SECONDS) {
        fail(`"Timeout" must be a number of seconds up to ${MAX_TIMEOUT_SECONDS} (0: DICOM_SCU_TIMEOUT_MS)`);
      }
      result.Timeout = value as number;
    }
    // Other keys (those of newer Orthanc versions, such as RetrieveMethod) are ignored, as Orthanc ignores what it does not know.
  }
  if (result.UseDicomTls) fail('"UseDicomTls" is not supported by DeidFlow');
  return result;
}
