import { Injectable } from '@nestjs/common';
import { JobRepository } from '@deidflow/database';

const BLOCK = 32;

/**
 * Orthanc's "AnonymizedN" names for anonymized patients whose request names none. Numbers are
 * reserved in Postgres by blocks, so that an instance anonymize call does not commit a transaction
 * for its name: unique across processes, increasing within one.
 */
@Injectable()
export class PatientNamesService {
  private next = 0;
  private last = -1;
  private reserving?: Promise<void>;

  constructor(private readonly jobs: JobRepository) {}

  async nextName(): Promise<string> {
    while (this.next > this.last) {
      this.reserving ??= this.jobs.reserveAnonymizationNumbers(BLOCK).then(
        (last) => {
          this.next = last - BLOCK + 1;
          this.last = last;
          this.reserving = undefined;
        },
        (err: unknown) => {
          this.reserving = undefined;
          throw err;
        },
      );
      await this.reserving;
    }
    return `Anonymized${this.next++}`;
  }
}
