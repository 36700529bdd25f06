import { archiveEntries, ArchivePatient, keepAlphanumeric } from './archive-layout';

describe('archiveEntries (the folders and file names of Orthanc 1.10 archives)', () => {
  const patient = (id: string, tags: Record<string, string>, studies: ArchivePatient['studies']): ArchivePatient => ({ id, mainDicomTags: tags, studies });

  it('nests patient, study and series folders, numbers files per series with the modality prefix', () => {
    const entries = archiveEntries([
      patient('p2', { PatientID: 'ID2', PatientName: 'ZED' }, []),
      patient('p1', { PatientID: 'ozp00SjY2xG', PatientName: 'KNIX^JOHN' }, [
        {
          id: 's1',
          mainDicomTags: { AccessionNumber: 'A10', StudyDescription: 'Knee (R)' },
          series: [
            { id: 'se2', mainDicomTags: { Modality: 'MR', SeriesDescription: 'AX  T1' }, instanceIds: ['i3', 'i4'] },
            { id: 'se1', mainDicomTags: { Modality: 'M' }, instanceIds: ['i1'] },
            { id: 'se3', mainDicomTags: {}, instanceIds: ['i5'] },
          ],
        },
      ]),
    ]);
    expect(entries).toEqual([
      { path: 'ozp00SjY2xG KNIX JOHN/A10 Knee R/M/M0000000.dcm', instanceId: 'i1' },
      { path: 'ozp00SjY2xG KNIX JOHN/A10 Knee R/MR AX T1/MR000000.dcm', instanceId: 'i3' },
      { path: 'ozp00SjY2xG KNIX JOHN/A10 Knee R/MR AX T1/MR000001.dcm', instanceId: 'i4' },
      { path: 'ozp00SjY2xG KNIX JOHN/A10 Knee R/Unknown Series/00000000.dcm', instanceId: 'i5' },
    ]);
  });

  it('names empty folders "Unknown <level>" and makes repeated names unique with -2, -3', () => {
    const study = (id: string) => ({ id, mainDicomTags: {}, series: [{ id: `${id}-se`, mainDicomTags: { Modality: 'CT' }, instanceIds: [`${id}-i`] }] });
    const entries = archiveEntries([patient('p1', {}, [study('a'), study('b'), study('c')])]);
    expect(entries.map((e) => e.path)).toEqual([
      'Unknown Patient/Unknown Study/CT/CT000000.dcm',
      'Unknown Patient/Unknown Study-2/CT/CT000000.dcm',
      'Unknown Patient/Unknown Study-3/CT/CT000000.dcm',
    ]);
  });

  it('keeps letters, digits, "." and "_" as HierarchicalZipWriter does', () => {
    expect(keepAlphanumeric('  Dupont^Jean-Émile / 1.2_3  ')).toBe('Dupont Jeanmile 1.2_3');
    expect(keepAlphanumeric('../../etc/passwd')).toBe('....etcpasswd');
    expect(keepAlphanumeric('a\tb\n\nc')).toBe('a b c');
  });
});
