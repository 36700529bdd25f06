import { Global, Module } from '@nestjs/common';
import { JobControlService } from './job-control.service';
import { JobEnqueuer } from './job-enqueuer.service';
import { JobEventsService } from './job-events.service';
import { JobExpansionService } from './job-expansion.service';
import { JobSubmissionService } from './job-submission.service';
import { PatientNamesService } from './patient-names.service';

/** Job orchestration shared by the API (submit, control, wait) and the workers (enqueue, announce). */
@Global()
@Module({
  providers: [JobEnqueuer, JobEventsService, JobExpansionService, JobSubmissionService, JobControlService, PatientNamesService],
  exports: [JobEnqueuer, JobEventsService, JobExpansionService, JobSubmissionService, JobControlService, PatientNamesService],
})
export class JobsModule {}
