-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "patient_name" TEXT,
ADD COLUMN     "ready" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "global_properties" (
    "name" TEXT NOT NULL,
    "value" BIGINT NOT NULL,

    CONSTRAINT "global_properties_pkey" PRIMARY KEY ("name")
);
