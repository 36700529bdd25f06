import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapPatientId, mapUid, stripIdentifier, UidMapper } from './uid-mapping';
import { PRODUCT_VERSION, IMPLEMENTATION_VERSION_NAME } from './product';

describe('mapUid', () => {
  it('is a pure function of (secret, level, uid) giving a 2.25 UID', () => {
    const uid = mapUid('s', 'Study', '1.2.3');
    expect(uid).toMatch(/^2\.25\.[1-9]\d{0,38}$/);
    expect(uid.length).toBeLessThanOrEqual(64);
    expect(mapUid('s', 'Study', '1.2.3')).toBe(uid);
    expect(mapUid('s', 'Study', ' 1.2.3\0')).toBe(uid);
    expect(mapUid('t', 'Study', '1.2.3')).not.toBe(uid);
    expect(mapUid('s', 'Series', '1.2.3')).not.toBe(uid);
    expect(mapUid('s', 'Study', '1.2.4')).not.toBe(uid);
  });

  it('gives no collision over many UIDs', () => {
    const seen = new Set(Array.from({ length: 20000 }, (_, i) => mapUid('s', 'Instance', `1.2.840.${i}`)));
    expect(seen.size).toBe(20000);
  });
});

describe('mapPatientId', () => {
  it('is a 36-character UUID derived from the original', () => {
    expect(mapPatientId('s', 'PID')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(mapPatientId('s', 'PID ')).toBe(mapPatientId('s', 'PID'));
    expect(mapPatientId('s', 'PID2')).not.toBe(mapPatientId('s', 'PID'));
  });
});

describe('UidMapper', () => {
  it('memoises and honours the identities a file pins', () => {
    const mapper = new UidMapper('s');
    expect(mapper.map('Study', '1.2')).toBe(mapUid('s', 'Study', '1.2'));
    expect(mapper.map('Patient', 'P')).toBe(mapPatientId('s', 'P'));
    const pinned = new Map([[UidMapper.pinKey('Study', '1.2'), '9.9']]);
    expect(mapper.map('Study', '1.2 ', pinned)).toBe('9.9');
    expect(stripIdentifier('\0 1.2 \0')).toBe('1.2');
  });
});

describe('product', () => {
  it('has the version of package.json and a valid implementation version name', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../../package.json'), 'utf8')) as { version: string };
    expect(PRODUCT_VERSION).toBe(pkg.version);
    expect(IMPLEMENTATION_VERSION_NAME.length).toBeLessThanOrEqual(16);
  });
});
