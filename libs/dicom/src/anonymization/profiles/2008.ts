/**
 * PS3.15-2008 Table E.1-1, as Orthanc applies it for DicomVersion 2008.
 *
 * Source: Orthanc, OrthancFramework/Sources/DicomParsing/DicomModification.cpp,
 * SetupAnonymization2008() (a hand-written list, not generated from part15.xml) and
 * SetupUidsFromOrthanc_1_9_3() (as in the jodogne/OrthancMirror copy at commit
 * 021497be7bce33a976ba14511f01e14ba2c41a5c; compared tag by tag in the seventeenth session).
 *
 * Orthanc does not follow the 2008 action codes: every row it keeps from the table is removed
 * (action 'X' here), and the UIDs are the fixed list of SetupUidsFromOrthanc_1_9_3 (action 'U').
 * There are no clearings and no group ranges in 2008.
 *
 * Counts: 35 removals from the table + 4 extra removals "from the experience of DICOM files at
 * the CHU of Liege" = 39 removed tags; 8 remapped UIDs. A grep of `removals_.insert` in
 * SetupAnonymization2008() finds 44 lines, because 5 of them are commented out: the rows below.
 *
 * Rows of the 2008 table that Orthanc leaves to the engine (so they are not data here):
 *   (0008,0018) SOP Instance UID, (0020,000d) Study Instance UID, (0020,000e) Series Instance UID:
 *     new UIDs, set in Apply();
 *   (0010,0010) Patient's Name: AnonymizedN unless the user gives one;
 *   (0010,0020) Patient ID: a random UUID.
 * SetupUidsFromOrthanc_1_9_3() also puts PatientID and PatientName in uids_, so their values
 * nested in sequences are remapped through the same map as the UIDs.
 */
import type { AnonymizationProfile, ProfileEntry } from './types';

const ENTRIES: readonly ProfileEntry[] = [
  // removals_ from the table.
  { tag: '00080050', keyword: 'AccessionNumber', action: 'X' }, // Accession Number
  { tag: '00080080', keyword: 'InstitutionName', action: 'X' }, // Institution Name
  { tag: '00080081', keyword: 'InstitutionAddress', action: 'X' }, // Institution Address
  { tag: '00080090', keyword: 'ReferringPhysicianName', action: 'X' }, // Referring Physician's Name
  { tag: '00080092', keyword: 'ReferringPhysicianAddress', action: 'X' }, // Referring Physician's Address
  { tag: '00080094', keyword: 'ReferringPhysicianTelephoneNumbers', action: 'X' }, // Referring Physician's Telephone Numbers
  { tag: '00081010', keyword: 'StationName', action: 'X' }, // Station Name
  { tag: '00081030', keyword: 'StudyDescription', action: 'X' }, // Study Description
  { tag: '0008103E', keyword: 'SeriesDescription', action: 'X' }, // Series Description
  { tag: '00081040', keyword: 'InstitutionalDepartmentName', action: 'X' }, // Institutional Department Name
  { tag: '00081048', keyword: 'PhysiciansOfRecord', action: 'X' }, // Physician(s) of Record
  { tag: '00081050', keyword: 'PerformingPhysicianName', action: 'X' }, // Performing Physicians' Name
  { tag: '00081060', keyword: 'NameOfPhysiciansReadingStudy', action: 'X' }, // Name of Physician(s) Reading Study
  { tag: '00081070', keyword: 'OperatorsName', action: 'X' }, // Operators' Name
  { tag: '00081080', keyword: 'AdmittingDiagnosesDescription', action: 'X' }, // Admitting Diagnoses Description
  { tag: '00082111', keyword: 'DerivationDescription', action: 'X' }, // Derivation Description
  { tag: '00100030', keyword: 'PatientBirthDate', action: 'X' }, // Patient's Birth Date
  { tag: '00100032', keyword: 'PatientBirthTime', action: 'X' }, // Patient's Birth Time
  { tag: '00100040', keyword: 'PatientSex', action: 'X' }, // Patient's Sex
  { tag: '00101000', keyword: 'OtherPatientIDs', action: 'X' }, // Other Patient Ids
  { tag: '00101001', keyword: 'OtherPatientNames', action: 'X' }, // Other Patient Names
  { tag: '00101010', keyword: 'PatientAge', action: 'X' }, // Patient's Age
  { tag: '00101020', keyword: 'PatientSize', action: 'X' }, // Patient's Size
  { tag: '00101030', keyword: 'PatientWeight', action: 'X' }, // Patient's Weight
  { tag: '00101090', keyword: 'MedicalRecordLocator', action: 'X' }, // Medical Record Locator
  { tag: '00102160', keyword: 'EthnicGroup', action: 'X' }, // Ethnic Group
  { tag: '00102180', keyword: 'Occupation', action: 'X' }, // Occupation
  { tag: '001021B0', keyword: 'AdditionalPatientHistory', action: 'X' }, // Additional Patient's History
  { tag: '00104000', keyword: 'PatientComments', action: 'X' }, // Patient Comments
  { tag: '00181000', keyword: 'DeviceSerialNumber', action: 'X' }, // Device Serial Number
  { tag: '00181030', keyword: 'ProtocolName', action: 'X' }, // Protocol Name
  { tag: '00200010', keyword: 'StudyID', action: 'X' }, // Study ID
  { tag: '00204000', keyword: 'ImageComments', action: 'X' }, // Image Comments
  { tag: '00400275', keyword: 'RequestAttributesSequence', action: 'X' }, // Request Attributes Sequence
  { tag: '0040A730', keyword: 'ContentSequence', action: 'X' }, // Content Sequence
  // removals_ added by Orthanc "from the experience of DICOM files at the CHU of Liege".
  { tag: '00101040', keyword: 'PatientAddress', action: 'X' }, // Patient's Address
  { tag: '00321032', keyword: 'RequestingPhysician', action: 'X' }, // Requesting Physician
  { tag: '00102154', keyword: 'PatientTelephoneNumbers', action: 'X' }, // PatientTelephoneNumbers
  { tag: '00102000', keyword: 'MedicalAlerts', action: 'X' }, // Medical Alerts
  // uids_ from SetupUidsFromOrthanc_1_9_3 (the UIDs Orthanc 1.9.3 remapped or removed).
  { tag: '00080014', keyword: 'InstanceCreatorUID', action: 'U' }, // Instance Creator UID
  { tag: '00081155', keyword: 'ReferencedSOPInstanceUID', action: 'U' }, // Referenced SOP Instance UID
  { tag: '00200052', keyword: 'FrameOfReferenceUID', action: 'U' }, // Frame of Reference UID
  { tag: '00200200', keyword: 'SynchronizationFrameOfReferenceUID', action: 'U' }, // Synchronization Frame of Reference UID
  { tag: '0040A124', keyword: 'UID', action: 'U' }, // UID
  { tag: '00880140', keyword: 'StorageMediaFileSetUID', action: 'U' }, // Storage Media File-set UID
  { tag: '30060024', keyword: 'ReferencedFrameOfReferenceUID', action: 'U' }, // Referenced Frame of Reference UID
  { tag: '300600C2', keyword: 'RelatedFrameOfReferenceUID', action: 'U' }, // Related Frame of Reference UID
];

export const PROFILE_2008: AnonymizationProfile = {
  version: '2008',
  source: 'PS3.15-2008 Table E.1-1, via Orthanc DicomModification.cpp SetupAnonymization2008 (hand-written)',
  entries: ENTRIES,
  ranges: [],
  deidentificationMethod: 'PS 3.15-2008 Table E.1-1',
};
