export * from './core.module';
export * from './instance-store.service';
export * from './logging';
export * from './shutdown-deadline';
