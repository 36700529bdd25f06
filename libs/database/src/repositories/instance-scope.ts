import type { ResourceLevel } from '@deidflow/common';
import { Prisma } from '../generated/client';

// SQL pieces that select the instances below a resource of any level, for statements that must
// not bring the instance list through Node (deletions, job submission). The instance table is `i`.

export function instanceJoin(level: ResourceLevel): Prisma.Sql {
  switch (level) {
    case 'Instance':
    case 'Series':
      return Prisma.empty;
    case 'Study':
      return Prisma.sql`JOIN series s ON s.id = i.series_id`;
    case 'Patient':
      return Prisma.sql`JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id`;
  }
}

export function levelColumn(level: ResourceLevel): Prisma.Sql {
  switch (level) {
    case 'Instance':
      return Prisma.sql`i.id`;
    case 'Series':
      return Prisma.sql`i.series_id`;
    case 'Study':
      return Prisma.sql`s.study_id`;
    case 'Patient':
      return Prisma.sql`st.patient_id`;
  }
}
