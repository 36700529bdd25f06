export * from './core.module';
export * from './instance-store.service';
export * from './resource-deletion.service';
export * from './orphan-objects.service';
export * from './logging';
export * from './shutdown-deadline';
export * from './dicom-association';
