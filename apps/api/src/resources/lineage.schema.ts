import type { SchemaObject } from '@nestjs/swagger';

const ORTHANC_ID = { type: 'string', example: '6816cb19-844d5aee-85245eba-28e841e6-2414fae2' };

const STEP_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['Generation', 'Operation', 'Job', 'RequestDigest', 'CreationTime', 'Resources', 'Instances'],
  properties: {
    Generation: { type: 'integer', minimum: 1, description: '1 for direct sources (or outputs), 2 for theirs, ...' },
    Operation: { type: 'string', enum: ['anonymize', 'modify'] },
    Job: { type: 'string', format: 'uuid', nullable: true, description: 'The job of the step (GET /jobs/{id})' },
    RequestDigest: { type: 'string', description: 'SHA-256 of the request: equal digests applied the same request' },
    CreationTime: { type: 'string', example: '20250101T120000', description: 'When the step was recorded (UTC)' },
    Resources: {
      type: 'array',
      items: ORTHANC_ID,
      description:
        'The resources of the asked level on the other side of the step (the source studies of a study, ...), ' +
        'those still stored',
    },
    Instances: {
      type: 'array',
      description: 'The instance pairs of the step',
      items: { type: 'object', properties: { Source: ORTHANC_ID, Output: ORTHANC_ID } },
    },
  },
};

/** OpenAPI shape of GET /{level}/{id}/lineage (see LineageService). */
export const LINEAGE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['ID', 'Type', 'Ancestors', 'Descendants'],
  properties: {
    ID: ORTHANC_ID,
    Type: { type: 'string', enum: ['Patient', 'Study', 'Series', 'Instance'] },
    Ancestors: { type: 'array', items: STEP_SCHEMA, description: 'Nearest generation first' },
    Descendants: { type: 'array', items: STEP_SCHEMA, description: 'Nearest generation first' },
  },
};
