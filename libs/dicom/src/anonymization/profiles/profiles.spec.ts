import {
  DEFAULT_DICOM_VERSION,
  DICOM_VERSIONS,
  actionForTag,
  actionOf,
  compileProfile,
  getProfile,
  isInTagRange,
  type DicomVersion,
  type ProfileAction,
} from './index';

function countByAction(version: DicomVersion): Record<ProfileAction, number> {
  const counts: Record<ProfileAction, number> = { remove: 0, clear: 0, remapUid: 0, relationship: 0, keep: 0 };
  for (const entry of getProfile(version).entries) counts[actionOf(entry.action)] += 1;
  return counts;
}

function action(version: DicomVersion, tag: string): ProfileAction | undefined {
  return actionForTag(compileProfile(version), tag);
}

/**
 * Counts as a grep of removals_.insert / clearings_.insert / uids_.insert / removedRanges_.push_back
 * finds them in Orthanc's sources (SEMANTICS.md A.2), and the distinct tags behind them:
 * - 2008: the grep of `removals_.insert` in SetupAnonymization2008() gives 44 lines, but 5 are
 *   commented out (SOP/Study/Series Instance UID, PatientName, PatientID: handled by the engine),
 *   so Orthanc removes 35 table tags + the 4 "CHU Liege" extras = 39.
 * - 2023b: DicomModification_Anonymization2023b.impl.h has 411 `removals_.insert` lines, of which 3
 *   repeat a tag already inserted (0032,1021; 0040,0001; 0040,0241), so 408 distinct tags.
 */
const EXPECTED: Record<DicomVersion, { remove: number; clear: number; remapUid: number; ranges: number }> = {
  '2008': { remove: 35 + 4, clear: 0, remapUid: 8, ranges: 0 },
  '2017c': { remove: 216, clear: 20, remapUid: 31, ranges: 3 },
  '2021b': { remove: 317, clear: 85, remapUid: 47, ranges: 3 },
  '2023b': { remove: 411 - 3, clear: 138, remapUid: 51, ranges: 3 },
};

describe('anonymization profiles', () => {
  it('lists the four DicomVersions and defaults to 2023b', () => {
    expect(DICOM_VERSIONS).toEqual(['2008', '2017c', '2021b', '2023b']);
    expect(DEFAULT_DICOM_VERSION).toBe('2023b');
  });

  describe.each(DICOM_VERSIONS)('%s', (version) => {
    const profile = getProfile(version);

    it('has the counts of Orthanc', () => {
      const counts = countByAction(version);
      const expected = EXPECTED[version];
      expect(counts.remove).toBe(expected.remove);
      expect(counts.clear).toBe(expected.clear);
      expect(counts.remapUid).toBe(expected.remapUid);
      expect(counts.keep).toBe(0);
      // Referenced Image Sequence and Source Image Sequence, from 2017c on.
      expect(counts.relationship).toBe(version === '2008' ? 0 : 2);
      expect(profile.ranges).toHaveLength(expected.ranges);
      expect(compileProfile(version).actions.size).toBe(profile.entries.length);
    });

    it('has well-formed, unique tags and keywords', () => {
      const tags = profile.entries.map((entry) => entry.tag);
      for (const tag of tags) expect(tag).toMatch(/^[0-9A-F]{8}$/);
      expect(new Set(tags).size).toBe(tags.length);
      for (const entry of profile.entries) expect(entry.keyword).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
      expect(profile.version).toBe(version);
    });

    it('uses only the Basic Profile codes the generator accepts', () => {
      const codes = new Set(profile.entries.map((entry) => entry.action));
      for (const code of codes) expect(['X', 'X/Z', 'X/D', 'X/Z/D', 'Z', 'D', 'Z/D', 'U', 'X/Z/U*']).toContain(code);
    });

    it('leaves PatientName, PatientID and the three main UIDs to the engine', () => {
      for (const tag of ['00100010', '00100020', '0020000D', '0020000E', '00080018']) {
        expect(compileProfile(version).actions.has(tag)).toBe(false);
      }
    });
  });

  it('sets the DeidentificationMethod suffix of each version', () => {
    expect(getProfile('2008').deidentificationMethod).toBe('PS 3.15-2008 Table E.1-1');
    expect(getProfile('2017c').deidentificationMethod).toBe('PS 3.15-2017c Table E.1-1 Basic Profile');
    expect(getProfile('2021b').deidentificationMethod).toBe('PS 3.15-2021b Table E.1-1 Basic Profile');
    expect(getProfile('2023b').deidentificationMethod).toBe('PS 3.15-2023b Table E.1-1 Basic Profile');
  });

  it('maps action codes like GenerateAnonymizationProfile.py', () => {
    expect(actionOf('X')).toBe('remove');
    expect(actionOf('X/Z')).toBe('remove');
    expect(actionOf('X/D')).toBe('remove');
    expect(actionOf('X/Z/D')).toBe('remove');
    expect(actionOf('Z')).toBe('clear');
    expect(actionOf('D')).toBe('clear');
    expect(actionOf('Z/D')).toBe('clear');
    expect(actionOf('U')).toBe('remapUid');
    expect(actionOf('X/Z/U*')).toBe('relationship');
    expect(actionOf('K')).toBe('keep');
    expect(actionOf('C')).toBe('keep');
  });

  it('caches the compiled profile per version', () => {
    expect(compileProfile('2021b')).toBe(compileProfile('2021b'));
    expect(compileProfile('2021b')).not.toBe(compileProfile('2023b'));
  });

  // orthanc-tests test_issue_146.
  it('differs between versions like test_issue_146', () => {
    const deviceDescription = '00500020';
    const structureSetLabel = '30060002';
    const studyDate = '00080020';
    expect(action('2008', deviceDescription)).toBeUndefined();
    expect(action('2017c', deviceDescription)).toBeUndefined();
    expect(action('2021b', deviceDescription)).toBe('remove');
    expect(action('2023b', deviceDescription)).toBe('remove');
    expect(action('2008', structureSetLabel)).toBeUndefined();
    expect(action('2017c', structureSetLabel)).toBeUndefined();
    expect(action('2021b', structureSetLabel)).toBe('clear');
    expect(action('2023b', structureSetLabel)).toBe('clear');
    expect(action('2008', studyDate)).toBeUndefined();
    expect(action('2017c', studyDate)).toBe('clear');
    expect(action('2021b', studyDate)).toBe('clear');
    expect(action('2023b', studyDate)).toBe('clear');
  });

  it('follows the other changes between editions', () => {
    expect(action('2017c', '0040A730')).toBe('remove'); // ContentSequence X
    expect(action('2021b', '0040A730')).toBe('clear'); // ContentSequence D
    expect(action('2021b', '30100077')).toBe('clear'); // TreatmentSite D
    expect(action('2023b', '30100077')).toBe('remove'); // TreatmentSite X/D
    expect(action('2008', '00080050')).toBe('remove'); // AccessionNumber: everything is removed in 2008
    expect(action('2008', '00102000')).toBe('remove'); // MedicalAlerts, a CHU Liege extra
    expect(action('2008', '00081155')).toBe('remapUid'); // ReferencedSOPInstanceUID
    expect(action('2008', '00080014')).toBe('remapUid'); // InstanceCreatorUID
  });

  // Observed effect of Orthanc 1.10.1 `anonymize {}` (2021b), rules-observed.txt, top-level rows
  // that come from the table (meta header and engine-handled rows left out).
  it.each([
    ['AccessionNumber', '00080050', 'clear'],
    ['ContentDate', '00080023', 'clear'],
    ['ContentTime', '00080033', 'clear'],
    ['ContrastBolusAgent', '00180010', 'clear'],
    ['PatientBirthDate', '00100030', 'clear'],
    ['PatientSex', '00100040', 'clear'],
    ['RTPlanLabel', '300A0002', 'clear'],
    ['ReferringPhysicianName', '00080090', 'clear'],
    ['StudyDate', '00080020', 'clear'],
    ['StudyID', '00200010', 'clear'],
    ['StudyTime', '00080030', 'clear'],
    ['ContentSequence', '0040A730', 'clear'],
    ['FrameOfReferenceUID', '00200052', 'remapUid'],
    ['InstanceCreatorUID', '00080014', 'remapUid'],
    ['AcquisitionDate', '00080022', 'remove'],
    ['AcquisitionDateTime', '0008002A', 'remove'],
    ['AcquisitionTime', '00080032', 'remove'],
    ['AdditionalPatientHistory', '001021B0', 'remove'],
    ['DataSetTrailingPadding', 'FFFCFFFC', 'remove'],
    ['DeviceSerialNumber', '00181000', 'remove'],
    ['ImageComments', '00204000', 'remove'],
    ['InstitutionAddress', '00080081', 'remove'],
    ['InstitutionName', '00080080', 'remove'],
    ['InstitutionalDepartmentName', '00081040', 'remove'],
    ['IssuerOfPatientID', '00100021', 'remove'],
    ['NameOfPhysiciansReadingStudy', '00081060', 'remove'],
    ['OperatorsName', '00081070', 'remove'],
    ['OtherPatientIDs', '00101000', 'remove'],
    ['OtherPatientIDsSequence', '00101002', 'remove'],
    ['PatientAddress', '00101040', 'remove'],
    ['PatientAge', '00101010', 'remove'],
    ['PatientWeight', '00101030', 'remove'],
    ['PerformedProcedureStepDescription', '00400254', 'remove'],
    ['PerformedProcedureStepID', '00400253', 'remove'],
    ['PerformedProcedureStepStartDate', '00400244', 'remove'],
    ['PerformedProcedureStepStartTime', '00400245', 'remove'],
    ['PerformingPhysicianName', '00081050', 'remove'],
    ['ProtocolName', '00181030', 'remove'],
    ['RTPlanDate', '300A0006', 'remove'],
    ['RTPlanName', '300A0003', 'remove'],
    ['RTPlanTime', '300A0007', 'remove'],
    ['ReferencedPerformedProcedureStepSequence', '00081111', 'remove'],
    ['ReferencedStudySequence', '00081110', 'remove'],
    ['RequestAttributesSequence', '00400275', 'remove'],
    ['RequestedProcedureDescription', '00321060', 'remove'],
    ['SeriesDate', '00080021', 'remove'],
    ['SeriesDescription', '0008103E', 'remove'],
    ['SeriesTime', '00080031', 'remove'],
    ['StationName', '00081010', 'remove'],
    ['StudyComments', '00324000', 'remove'],
    ['StudyDescription', '00081030', 'remove'],
    ['TimezoneOffsetFromUTC', '00080201', 'remove'],
  ] as const)('2021b: %s (%s) is %s as Orthanc 1.10.1 did', (keyword, tag, expected) => {
    expect(action('2021b', tag)).toBe(expected);
    expect(getProfile('2021b').entries.find((entry) => entry.tag === tag)?.keyword).toBe(keyword);
  });

  describe('group ranges', () => {
    it('removes curves, overlay data and overlay comments from 2017c on', () => {
      for (const version of ['2017c', '2021b', '2023b'] as const) {
        expect(action(version, '50001234')).toBe('remove');
        expect(action(version, '50FF0000')).toBe('remove');
        expect(action(version, '60003000')).toBe('remove');
        expect(action(version, '60104000')).toBe('remove');
        expect(action(version, '60000010')).toBeUndefined(); // OverlayRows stays
        expect(action(version, '51000000')).toBeUndefined();
        expect(action(version, '61003000')).toBeUndefined();
      }
      expect(action('2008', '50001234')).toBeUndefined();
      expect(action('2008', '60003000')).toBeUndefined();
    });

    it('compares as unsigned 32-bit numbers', () => {
      const [curves] = getProfile('2023b').ranges;
      expect(isInTagRange(curves, 0x50ffffff)).toBe(true);
      expect(isInTagRange(curves, 0xfffcfffc)).toBe(false);
    });
  });
});
