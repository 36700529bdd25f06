import type { InstanceRow } from '@deidflow/database';
import { associationGroups } from './modality.service';

const row = (id: string, sopClassUid: string, transferSyntaxUid = '1.2.840.10008.1.2.1') => ({ id, sopClassUid, transferSyntaxUid }) as InstanceRow;

describe('associationGroups', () => {
  it('proposes one context per SOP class and syntax, odd IDs, instances in their order', () => {
    const groups = associationGroups([row('a', 'CT'), row('b', 'MR'), row('c', 'CT'), row('d', 'CT', '1.2.840.10008.1.2.4.70')]);
    expect(groups).toHaveLength(1);
    expect(groups[0].contexts).toEqual([
      { id: 1, abstractSyntaxUid: 'CT', transferSyntaxUids: ['1.2.840.10008.1.2.1'] },
      { id: 3, abstractSyntaxUid: 'MR', transferSyntaxUids: ['1.2.840.10008.1.2.1'] },
      { id: 5, abstractSyntaxUid: 'CT', transferSyntaxUids: ['1.2.840.10008.1.2.4.70'] },
    ]);
    expect(groups[0].instances.map((instance) => instance.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('opens another association past 128 contexts, each instance with the group that proposes its context', () => {
    const instances = Array.from({ length: 130 }, (_, i) => row(`i${i}`, `1.2.${i}`));
    instances.push(row('again', '1.2.0'));
    const groups = associationGroups(instances);
    expect(groups.map((group) => group.contexts.length)).toEqual([128, 2]);
    expect(groups[1].contexts.map((context) => context.id)).toEqual([1, 3]);
    expect(groups[0].instances.at(-1)?.id).toBe('again');
    expect(groups[0].contexts.at(-1)?.id).toBe(255);
  });
});
