export * from './job-control.service';
export * from './job-enqueuer.service';
export * from './job-events.service';
export * from './job-expansion.service';
export * from './job-format';
export * from './job-submission.service';
export * from './jobs.module';
export * from './patient-names.service';
