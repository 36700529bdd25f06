import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { assertValidObjectKey, INSTANCE_KEY_DIRECTORIES, instanceIdOfObjectKey, isValidObjectKey, objectKeyForInstance } from './object-key';

const ID = '0a1b2c3d-4e5f6071-8293a4b5-c6d7e8f9-0a1b2c3d';

describe('objectKeyForInstance', () => {
  it('fans out on the first hex digits of the ID', () => {
    expect(objectKeyForInstance(ID)).toBe(`instances/0a1/${ID}.dcm`);
  });

  it('puts every key in one of INSTANCE_KEY_DIRECTORIES, which are all valid and distinct', () => {
    expect(INSTANCE_KEY_DIRECTORIES).toHaveLength(4096);
    expect(new Set(INSTANCE_KEY_DIRECTORIES).size).toBe(4096);
    expect(INSTANCE_KEY_DIRECTORIES.every(isValidObjectKey)).toBe(true);
    for (const id of [ID, 'ffffffff-00000000-00000000-00000000-00000000', '00000000-00000000-00000000-00000000-00000000']) {
      expect(INSTANCE_KEY_DIRECTORIES).toContain(objectKeyForInstance(id).slice(0, objectKeyForInstance(id).lastIndexOf('/')));
    }
  });

  it.each(['', '../etc/passwd', ID.toUpperCase(), `${ID}/x`, ID.slice(1), '1.2.840.10008.1'])(
    'refuses %j',
    (value) => {
      expect(() => objectKeyForInstance(value)).toThrow(OrthancError);
    },
  );
});

describe('instanceIdOfObjectKey', () => {
  it('reads the instance ID back from the key of every layout', () => {
    expect(instanceIdOfObjectKey(objectKeyForInstance(ID))).toBe(ID);
    expect(instanceIdOfObjectKey(`instances/0a/1b/${ID}.dcm`)).toBe(ID); // the earlier two-level layout
  });

  it.each([`instances/${ID}.dcm`, `instances/0a1/${ID}.dcm.tmp`, `other/0a1/${ID}.dcm`, `instances/0a1/${ID.toUpperCase()}.dcm`, 'instances/0a1/x.dcm', `zip/${ID}.dcm`])(
    'is undefined for another key: %j',
    (key) => {
      expect(instanceIdOfObjectKey(key)).toBeUndefined();
    },
  );
});

describe('object keys', () => {
  it.each(['a', 'instances/0a/1b/x.dcm', 'zip/job-1_2.zip', '.hidden'])('accepts %j', (key) => {
    expect(isValidObjectKey(key)).toBe(true);
  });

  it.each(['', '/abs', 'a/../b', '..', 'a/./b', '.', 'a//b', 'a/', 'a b', 'é', 'a\\b', 'a~b', 'x'.repeat(513)])(
    'refuses %j',
    (key) => {
      expect(isValidObjectKey(key)).toBe(false);
      expect(() => assertValidObjectKey(key)).toThrow(
        expect.objectContaining({ code: OrthancErrorCode.ParameterOutOfRange }),
      );
    },
  );
});
