import { directoriesToSync } from './fs-storage';

describe('directoriesToSync (what a new file needs fsynced to survive a crash)', () => {
  const leaf = '/store/instances/ab/cd';

  it('is the directory holding the file when no directory was created', () => {
    expect(directoriesToSync(leaf)).toEqual([leaf]);
  });

  it('adds the parent of every directory created for it, up to the topmost one', () => {
    expect(directoriesToSync(leaf, leaf)).toEqual([leaf, '/store/instances/ab']);
    expect(directoriesToSync(leaf, '/store/instances/ab')).toEqual([leaf, '/store/instances/ab', '/store/instances']);
    expect(directoriesToSync(leaf, '/store/instances')).toEqual([leaf, '/store/instances/ab', '/store/instances', '/store']);
  });

  it('stops at the root', () => {
    expect(directoriesToSync('/a', '/a')).toEqual(['/a', '/']);
  });
});
