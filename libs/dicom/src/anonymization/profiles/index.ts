// PS3.15 Table E.1-1 (Basic Profile) per DicomVersion, exactly as Orthanc applies it. Pure data.
export * from './types';
export * from './ranges';
export * from './profiles';
export { PROFILE_2008 } from './2008';
export { PROFILE_2017C } from './2017c';
export { PROFILE_2021B } from './2021b';
export { PROFILE_2023B } from './2023b';
