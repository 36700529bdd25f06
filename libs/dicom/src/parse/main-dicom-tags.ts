/**
 * The "main DICOM tags" Orthanc 1.10 indexes at each level (OrthancFramework/Sources/DicomFormat/DicomMap.cpp,
 * MAIN_DICOM_TAGS_*): what GET /{level}/{id} answers as MainDicomTags. Keys are 'GGGGEEEE' hex.
 */
export const PATIENT_MAIN_DICOM_TAGS: Record<string, string> = {
  '00100010': 'PatientName',
  '00100020': 'PatientID',
  '00100030': 'PatientBirthDate',
  '00100040': 'PatientSex',
  '00101000': 'OtherPatientIDs',
};

export const STUDY_MAIN_DICOM_TAGS: Record<string, string> = {
  '00080020': 'StudyDate',
  '00080030': 'StudyTime',
  '00200010': 'StudyID',
  '00081030': 'StudyDescription',
  '00080050': 'AccessionNumber',
  '0020000D': 'StudyInstanceUID',
  '00321060': 'RequestedProcedureDescription',
  '00080080': 'InstitutionName',
  '00321032': 'RequestingPhysician',
  '00080090': 'ReferringPhysicianName',
};

export const SERIES_MAIN_DICOM_TAGS: Record<string, string> = {
  '00080021': 'SeriesDate',
  '00080031': 'SeriesTime',
  '00080060': 'Modality',
  '00080070': 'Manufacturer',
  '00081010': 'StationName',
  '0008103E': 'SeriesDescription',
  '00180015': 'BodyPartExamined',
  '00180024': 'SequenceName',
  '00181030': 'ProtocolName',
  '00200011': 'SeriesNumber',
  '00181090': 'CardiacNumberOfImages',
  '00201002': 'ImagesInAcquisition',
  '00200105': 'NumberOfTemporalPositions',
  '00540081': 'NumberOfSlices',
  '00540101': 'NumberOfTimeSlices',
  '0020000E': 'SeriesInstanceUID',
  '00200037': 'ImageOrientationPatient',
  '00541000': 'SeriesType',
  '00081070': 'OperatorsName',
  '00400254': 'PerformedProcedureStepDescription',
  '00181400': 'AcquisitionDeviceProcessingDescription',
  '00180010': 'ContrastBolusAgent',
};

export const INSTANCE_MAIN_DICOM_TAGS: Record<string, string> = {
  '00080012': 'InstanceCreationDate',
  '00080013': 'InstanceCreationTime',
  '00200012': 'AcquisitionNumber',
  '00541330': 'ImageIndex',
  '00200013': 'InstanceNumber',
  '00280008': 'NumberOfFrames',
  '00200100': 'TemporalPositionIdentifier',
  '00080018': 'SOPInstanceUID',
  '00200032': 'ImagePositionPatient',
  '00200037': 'ImageOrientationPatient',
};
