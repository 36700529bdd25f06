import { writeFileSync } from 'node:fs';

export interface ScenarioFigures {
  scenario: string;
  instances: number;
  faultsInjected: string;
  lost: number;
  duplicated: number;
  failedInstances: number;
  seconds: number;
  notes?: string;
}

const recorded: ScenarioFigures[] = [];

export function recordFigures(figures: ScenarioFigures): void {
  recorded.push(figures);
}

/** FAULTS_REPORT=<file>: the figures of the run as JSON, the source of RELIABILITY.md's table. */
export function writeFiguresIfAsked(): void {
  const path = process.env.FAULTS_REPORT;
  if (path) writeFileSync(path, `${JSON.stringify(recorded, null, 2)}\n`);
}
